// SAS tokens as IoT Hub checks them (iot-hub-protocol.md §1.3, §1.4): parse, verify the
// HMAC-SHA256 signature in constant time, and name the identity a resource URI points at.
// Part of the IoT Hub stand-in (../hub_standin.mjs).
import crypto from 'node:crypto';

const PREFIX = 'SharedAccessSignature';

/** Thrown for a token that cannot be accepted; `status` is the HTTP-style code to answer with. */
export class TokenError extends Error {
  constructor(message, status = 401) {
    super(message);
    this.status = status;
  }
}

/** The fields of a token's text: { sr, sig, se, skn }, `sr` still URL-encoded as signed. */
export function parseToken(text) {
  if (typeof text !== 'string') throw new TokenError('the token is not a string', 400);
  const match = /^(\S+)\s+(\S+)$/.exec(text.trim());
  if (!match || match[1] !== PREFIX) throw new TokenError(`not a ${PREFIX} token`, 400);
  const fields = {};
  for (const pair of match[2].split('&')) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new TokenError(`malformed token field '${pair}'`, 400);
    fields[pair.slice(0, at)] = pair.slice(at + 1);
  }
  for (const required of ['sr', 'sig', 'se']) {
    if (!fields[required]) throw new TokenError(`the token has no '${required}'`, 400);
  }
  if (!/^\d+$/.test(fields.se)) throw new TokenError('the token expiry (se) is not a number', 400);
  return { sr: fields.sr, sig: fields.sig, se: Number(fields.se), skn: fields.skn };
}

function hmac(keyBase64, text) {
  return crypto.createHmac('sha256', Buffer.from(keyBase64, 'base64')).update(text, 'utf8').digest();
}

/** True when `sig` is the signature of `sr`+"\n"+`se` with one of `keys` (base64). */
export function signedWithOneOf(token, keys) {
  let presented;
  try {
    presented = Buffer.from(decodeURIComponent(token.sig), 'base64');
  } catch {
    return false;
  }
  let matched = false;
  for (const key of keys.filter(Boolean)) {
    const expected = hmac(key, `${token.sr}\n${token.se}`);
    // Every key is compared, whatever the outcome of the previous one, and each comparison is
    // constant-time, so the answer's timing does not tell which key or how much matched.
    if (expected.length === presented.length && crypto.timingSafeEqual(expected, presented)) matched = true;
  }
  return matched;
}

/**
 * The identity a resource names: '{hub}/devices/{d}' -> 'd', '{hub}/devices/{d}/modules/{m}'
 * -> 'd/m'. The resource may be URL-encoded (a token's `sr`, a CBS `name`) and may start with
 * amqps://; the host must be `hubName` (case-insensitive). Anything else throws a TokenError.
 */
export function identityOfResource(resource, hubName) {
  let text;
  try {
    text = decodeURIComponent(resource);
  } catch {
    throw new TokenError(`'${resource}' is not URL-encoded correctly`, 400);
  }
  text = text.replace(/^amqps:\/\//i, '');
  const segments = text.split('/');
  const [host, devices, device, modules, module, ...rest] = segments;
  if (host.toLowerCase() !== hubName.toLowerCase()) {
    throw new TokenError(`'${text}' does not name this hub (${hubName})`);
  }
  const isDevice = segments.length === 3 && devices === 'devices' && device;
  const isModule = segments.length === 5 && devices === 'devices' && device && modules === 'modules' && module;
  if (!(isDevice || isModule) || rest.length) {
    throw new TokenError(`'${text}' names no device or module (expected {hub}/devices/{d}[/modules/{m}])`, 400);
  }
  return isModule ? `${device}/${module}` : device;
}

/** The resource URI of an identity id ('d' or 'd/m'). */
export function resourceOf(hubName, identity) {
  const [device, module] = identity.split('/');
  return module === undefined ? `${hubName}/devices/${device}` : `${hubName}/devices/${device}/modules/${module}`;
}

/** A token for `identity` signed with `keyBase64`, valid for `seconds` (test and client helper). */
export function makeToken(hubName, identity, keyBase64, seconds = 3600) {
  const sr = encodeURIComponent(resourceOf(hubName, identity));
  const se = Math.floor(Date.now() / 1000) + seconds;
  const sig = encodeURIComponent(hmac(keyBase64, `${sr}\n${se}`).toString('base64'));
  return `${PREFIX} sr=${sr}&sig=${sig}&se=${se}`;
}
