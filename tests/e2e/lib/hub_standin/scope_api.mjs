// IoT Hub's device-scope API for edge devices, as edgeHub calls it (edgehub-reference.md §2.4):
// POST /devices/{edge}/modules/$edgeHub/devicesAndModulesInTargetDeviceScope and
// .../getDeviceAndModuleOnBehalfOf, api-version 2020-06-30-preview, authorised by a SAS token of
// the edge device's $edgeHub module. Answers ScopeResult JSON {devices, modules, continuationLink}.
// Part of the IoT Hub stand-in (../hub_standin.mjs).
import { TokenError, identityOfResource, parseToken, signedWithOneOf } from './sas.mjs';

const API_VERSION = '2020-06-30-preview';
const MAX_BODY_BYTES = 64 * 1024;
const ROUTE = /^\/devices\/([^/]+)\/modules\/([^/]+)\/(devicesAndModulesInTargetDeviceScope|getDeviceAndModuleOnBehalfOf)$/;

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    Object.assign(this, { status, code });
  }
}

/** The error body IoT Hub writes (iot-hub-protocol.md §12.3). */
function errorBody(error) {
  return { Message: `ErrorCode:${error.code};${error.message}`, ExceptionMessage: error.message };
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    request.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new HttpError(413, 'RequestEntityTooLarge', 'the request body is too large'));
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

export class ScopeApi {
  constructor({ hubName, registry, record }) {
    Object.assign(this, { hubName, registry, record });
  }

  /** True when the request is for this API (the caller answers 404 otherwise). */
  handles(url) {
    return ROUTE.test(url.pathname);
  }

  async serve(request, response, url) {
    const entry = { method: request.method, path: url.pathname, at: new Date(), status: 0 };
    let status = 200;
    let body;
    try {
      body = await this.answer(request, url, entry);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      status = error.status;
      body = errorBody(error);
    }
    entry.status = status;
    this.record.scopeRequests.push(entry);
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    response.end(JSON.stringify(body));
  }

  async answer(request, url, entry) {
    const [, edgeText, moduleText, operation] = ROUTE.exec(url.pathname);
    const edge = decodeURIComponent(edgeText);
    Object.assign(entry, { edge, operation });
    if (request.method !== 'POST') throw new HttpError(405, 'MethodNotAllowed', `${operation} takes POST`);
    if (decodeURIComponent(moduleText) !== '$edgeHub') {
      throw new HttpError(404, 'ModuleNotFound', 'only $edgeHub calls the scope API');
    }
    const apiVersion = url.searchParams.get('api-version');
    if (apiVersion !== API_VERSION) {
      throw new HttpError(400, 'InvalidProtocolVersion', `api-version '${apiVersion}' is not ${API_VERSION}`);
    }
    this.authorize(request.headers.authorization, edge);
    let query;
    try {
      query = JSON.parse(await readBody(request));
    } catch (error) {
      if (error instanceof HttpError) throw error;
      throw new HttpError(400, 'ArgumentInvalid', 'the request body is not JSON');
    }
    if (typeof query !== 'object' || query === null) {
      throw new HttpError(400, 'ArgumentInvalid', 'the request body is not a JSON object');
    }
    entry.query = query;
    return operation === 'devicesAndModulesInTargetDeviceScope' ? this.scope(edge, query) : this.onBehalfOf(edge, query);
  }

  /** The Authorization header must carry a valid token of {edge}/$edgeHub. */
  authorize(header, edge) {
    const unauthorized = (why) => new HttpError(401, 'IotHubUnauthorizedAccess', why);
    if (!header) throw unauthorized('no Authorization header');
    let token;
    let signer;
    try {
      token = parseToken(header);
      signer = identityOfResource(token.sr, this.hubName);
    } catch (error) {
      if (error instanceof TokenError) throw unauthorized(error.message);
      throw error;
    }
    if (signer !== `${edge}/$edgeHub`) throw unauthorized(`a token for '${signer}' does not authorise '${edge}/$edgeHub'`);
    if (token.se * 1000 <= Date.now()) throw unauthorized('the token expired');
    if (!signedWithOneOf(token, this.registry.keysOf(signer))) {
      throw unauthorized(`the token is not signed with a key of '${signer}'`);
    }
    if (!this.registry.get(edge)?.edge) throw unauthorized(`'${edge}' is not an edge device`);
  }

  /** The target of an auth chain ('target;...;actor', default: the edge device itself). */
  targetOf(edge, authChain) {
    if (authChain === undefined || authChain === null) return edge;
    if (typeof authChain !== 'string') throw new HttpError(400, 'ArgumentInvalid', 'authChain is not a string');
    const target = authChain.split(';')[0];
    const refusal = this.registry.refuseAuthChain(authChain, target, edge);
    if (refusal) throw new HttpError(401, 'IotHubUnauthorizedAccess', refusal);
    return target;
  }

  scope(edge, { pageSize = 100, continuationLink, authChain }) {
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      throw new HttpError(400, 'ArgumentInvalid', 'pageSize must be a positive integer');
    }
    const target = this.targetOf(edge, authChain);
    if (!this.registry.get(target)?.edge) throw new HttpError(400, 'ArgumentInvalid', `'${target}' is not an edge device`);
    const start = continuationLink ? this.offsetOf(continuationLink, target) : 0;
    const listing = this.registry.scopeListing(target);
    const page = listing.slice(start, start + pageSize);
    const next = start + pageSize < listing.length ? this.linkTo(target, start + pageSize) : null;
    return { devices: page.filter((i) => i.device).map((i) => i.device),
             modules: page.filter((i) => i.module).map((i) => i.module), continuationLink: next };
  }

  // A continuation link is opaque to the caller; here it carries the target and the next offset.
  linkTo(target, offset) {
    const token = Buffer.from(JSON.stringify({ target, offset })).toString('base64url');
    return `/devices/${encodeURIComponent(target)}/modules/$edgeHub/devicesAndModulesInTargetDeviceScope` +
      `?continuationToken=${token}`;
  }

  offsetOf(link, target) {
    try {
      const token = new URL(link, 'https://hub').searchParams.get('continuationToken');
      const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
      if (parsed.target === target && Number.isInteger(parsed.offset) && parsed.offset >= 0) return parsed.offset;
    } catch {
      // falls through to the refusal below
    }
    throw new HttpError(400, 'ArgumentInvalid', `continuationLink '${link}' was not issued for '${target}'`);
  }

  onBehalfOf(edge, { targetDeviceId, targetModuleId, authChain }) {
    if (typeof targetDeviceId !== 'string' || !targetDeviceId) {
      throw new HttpError(400, 'ArgumentInvalid', 'targetDeviceId is required');
    }
    const device = targetDeviceId;
    const module = targetModuleId ? `${targetDeviceId}/${targetModuleId}` : null;
    const wanted = module ?? device;
    if (!this.registry.get(wanted)) throw new HttpError(404, 'DeviceNotFound', `'${wanted}' is not registered in this hub`);
    const refusal = authChain !== undefined ? this.registry.refuseAuthChain(authChain, wanted, edge)
      : (this.registry.isInScope(edge, wanted) ? null : `'${wanted}' is not in the scope of '${edge}'`);
    if (refusal) throw new HttpError(401, 'IotHubUnauthorizedAccess', refusal);
    return { devices: [this.registry.deviceJson(device)], modules: module ? [this.registry.moduleJson(module)] : [],
             continuationLink: null };
  }
}
