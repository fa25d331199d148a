// Who a SAS token lets in, as IoT Hub decides it for a CBS put-token or a SASL PLAIN password
// (iot-hub-protocol.md §3.1, §3.2): the identity's own token, or - on behalf of a child, as
// edgeHub authenticates upstream (edgehub-reference.md §2.6) - a token of an edge device's
// $edgeHub module for an identity in that edge device's scope. Part of the IoT Hub stand-in.
import { TokenError, identityOfResource, parseToken, signedWithOneOf } from './sas.mjs';

const EDGE_HUB_MODULE = '$edgeHub';

/**
 * Decides a token presented for `audience` (a resource, URL-encoded or not). Returns
 * { identity, expiresAt: Date, onBehalfOf: edge device id | null }; throws a TokenError
 * (status 400 for a malformed request, 401 for a refusal) with a reason.
 */
export function authorizeToken({ registry, hubName, audience, token: text, authChain, now = Date.now() }) {
  const identity = identityOfResource(audience, hubName);
  const token = parseToken(text);
  const signer = identityOfResource(token.sr, hubName);
  if (token.skn !== undefined) throw new TokenError('shared access policy (skn) tokens are not accepted here');
  const expiresAt = new Date(token.se * 1000);
  if (expiresAt.getTime() <= now) throw new TokenError(`the token expired at ${expiresAt.toISOString()}`);
  if (!registry.get(identity)) throw new TokenError(`'${identity}' is not registered in this hub`);

  let onBehalfOf = null;
  if (signer === identity) {
    if (!signedWithOneOf(token, registry.keysOf(identity))) {
      throw new TokenError(`the token is not signed with a key of '${identity}'`);
    }
  } else {
    const [edge, module, extra] = signer.split('/');
    if (module !== EDGE_HUB_MODULE || extra !== undefined || !registry.get(signer)) {
      throw new TokenError(`a token for '${signer}' does not authorise '${identity}'`);
    }
    if (!signedWithOneOf(token, registry.keysOf(signer))) {
      throw new TokenError(`the token is not signed with a key of '${signer}'`);
    }
    const refusal = authChain !== undefined ? registry.refuseAuthChain(authChain, identity, edge)
      : (registry.isInScope(edge, identity) ? null : `'${identity}' is not in the scope of '${edge}'`);
    if (refusal) throw new TokenError(refusal);
    onBehalfOf = edge;
  }
  if (!registry.isEnabled(identity)) throw new TokenError(`'${identity}' is disabled`);
  return { identity, expiresAt, onBehalfOf };
}

/** The identity a SASL PLAIN user name names: '{d}@sas.{hubname}' or '{d}/modules/{m}@sas.{hubname}'. */
export function identityOfPlainUser(user, hubName) {
  const hubLabel = hubName.split('.')[0];
  const match = /^([^/@]+)(?:\/modules\/([^/@]+))?@sas\.(.+)$/.exec(user ?? '');
  if (!match || match[3].toLowerCase() !== hubLabel.toLowerCase()) {
    throw new TokenError(`SASL PLAIN user '${user}' is not '{d}[/modules/{m}]@sas.${hubLabel}'`);
  }
  const [, device, module] = match.map((part) => (part === undefined ? part : decodeURIComponent(part)));
  return module === undefined ? device : `${device}/${module}`;
}
