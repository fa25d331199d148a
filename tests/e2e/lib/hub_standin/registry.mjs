// The identity registry of the IoT Hub stand-in: devices and modules with their keys, which
// devices are edge devices, and which edge device each child belongs to (its device scope,
// edgehub-reference.md §2.4). Answers the two questions the cloud side asks: "is this identity
// in that edge device's scope?" (on-behalf-of authentication, §2.6) and "what does the scope
// API list for that edge device?". Part of the IoT Hub stand-in (../hub_standin.mjs).
import crypto from 'node:crypto';

/**
 * `identities`: { 'dev1': { primaryKey, secondaryKey?, parent?: 'gw', edge?: true,
 * status?: 'enabled'|'disabled', x509Thumbprint?: {primary, secondary?}, x509Ca?: true },
 * 'dev1/mod1': { primaryKey, secondaryKey? }, ... }. A module belongs to its device's scope.
 */
export class Registry {
  constructor(identities) {
    this.identities = new Map();
    for (const [id, spec] of Object.entries(identities ?? {})) {
      const [device, module, extra] = id.split('/');
      if (!device || module === '' || extra !== undefined) throw new Error(`identity '${id}' is not 'd' or 'd/m'`);
      if (module !== undefined && !identities[device]) throw new Error(`module '${id}' has no device '${device}'`);
      if (spec.parent !== undefined && !identities[spec.parent]?.edge) {
        throw new Error(`'${id}' names parent '${spec.parent}', which is not an edge device here`);
      }
      this.identities.set(id, { status: 'enabled', ...spec, generationId: spec.generationId ?? generationIdOf(id) });
    }
  }

  get(id) { return this.identities.get(id); }

  keysOf(id) {
    const spec = this.identities.get(id);
    return spec ? [spec.primaryKey, spec.secondaryKey] : [];
  }

  isEnabled(id) {
    const [device] = id.split('/');
    return this.get(id)?.status === 'enabled' && this.get(device)?.status === 'enabled';
  }

  /** True when `id` (device or module) is in edge device `edge`'s scope: itself, its modules,
   *  a device whose parent it is, and that device's modules. */
  isInScope(edge, id) {
    if (!this.get(edge)?.edge || !this.get(id)) return false;
    const [device] = id.split('/');
    return device === edge || this.get(device)?.parent === edge;
  }

  /**
   * Checks an auth chain 'target;...;actor' (edgehub-reference.md §2.6): it starts at `target`,
   * ends at `actor`, and each element is in the scope of the next. Returns a reason when not.
   */
  refuseAuthChain(chainText, target, actor) {
    const chain = chainText.split(';');
    if (chain[0] !== target) return `the auth chain '${chainText}' does not start with '${target}'`;
    if (chain.at(-1) !== actor) return `the auth chain '${chainText}' does not end with '${actor}'`;
    for (let i = 0; i + 1 < chain.length; i++) {
      if (!this.isInScope(chain[i + 1], chain[i])) {
        return `'${chain[i]}' is not in the scope of '${chain[i + 1]}' (auth chain '${chainText}')`;
      }
    }
    return null;
  }

  /** What the scope API lists for edge device `edge`, devices first, in a stable order. */
  scopeListing(edge) {
    const ids = [...this.identities.keys()].filter((id) => this.isInScope(edge, id)).sort();
    return [
      ...ids.filter((id) => !id.includes('/')).map((id) => ({ device: this.deviceJson(id) })),
      ...ids.filter((id) => id.includes('/')).map((id) => ({ module: this.moduleJson(id) })),
    ];
  }

  /** The scope of edge device `edge`, as IoT Hub writes it. */
  scopeOf(edge) {
    return `ms-azure-iot-edge://${edge}-${this.get(edge).generationId}`;
  }

  /** A device as the scope API returns it (EdgeHubScopeDevice). */
  deviceJson(id) {
    const spec = this.get(id);
    const parentScopes = spec.parent ? [this.scopeOf(spec.parent)] : [];
    let deviceScope;
    if (spec.edge) deviceScope = this.scopeOf(id);
    else if (spec.parent) deviceScope = this.scopeOf(spec.parent);
    return {
      deviceId: id, generationId: spec.generationId, status: spec.status,
      authentication: authenticationJson(spec), capabilities: { iotEdge: Boolean(spec.edge) },
      ...(deviceScope ? { deviceScope } : {}), parentScopes,
    };
  }

  /** A module as the scope API returns it (EdgeHubScopeModule). */
  moduleJson(id) {
    const spec = this.get(id);
    const [deviceId, moduleId] = id.split('/');
    return { moduleId, deviceId, generationId: spec.generationId, authentication: authenticationJson(spec) };
  }
}

/** IoT Hub's AuthenticationMechanism JSON. */
function authenticationJson(spec) {
  if (spec.x509Thumbprint) {
    return { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: spec.x509Thumbprint.primary,
                                                   secondaryThumbprint: spec.x509Thumbprint.secondary ?? null } };
  }
  if (spec.x509Ca) return { type: 'certificateAuthority' };
  return { type: 'sas', symmetricKey: { primaryKey: spec.primaryKey, secondaryKey: spec.secondaryKey ?? null } };
}

/** A stable, IoT-Hub-looking generation id (18 digits) derived from the identity id. */
function generationIdOf(id) {
  const digest = crypto.createHash('sha256').update(id).digest();
  return `6${digest.readBigUInt64BE(0).toString().padStart(20, '0').slice(-17)}`;
}
