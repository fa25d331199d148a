// Device and module twins as IoT Hub keeps them (iot-hub-protocol.md §7): desired and reported
// properties, each with its own $version; a patch merges, null deletes a member. Holds no
// links: the AMQP side asks it to apply a request and sends what it answers. Part of the IoT
// Hub stand-in (../hub_standin.mjs).

/** Merges `patch` into `target` in place: objects recursively, null removes. */
function merge(target, patch) {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete target[key];
    else if (typeof value === 'object' && !Array.isArray(value) && typeof target[key] === 'object' && target[key] !== null) {
      merge(target[key], value);
    } else target[key] = structuredClone(value);
  }
}

function isObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class TwinStore {
  constructor() { this.twins = new Map(); }

  /** The twin of `identity`, created empty ($version 1 on each side) on first use. */
  get(identity) {
    if (!this.twins.has(identity)) this.twins.set(identity, { desired: { $version: 1 }, reported: { $version: 1 } });
    return this.twins.get(identity);
  }

  /** Applies a back-end change to the desired properties; returns the notification body. */
  updateDesired(identity, patch) {
    if (!isObject(patch)) throw new TypeError('a desired patch is a JSON object');
    const twin = this.get(identity);
    const { $version, ...rest } = patch;
    merge(twin.desired, rest);
    twin.desired.$version += 1;
    return { ...structuredClone(rest), $version: twin.desired.$version };
  }

  /**
   * A desired patch as IoT Hub published it, `$version` included (taken as the new version; +1
   * without one): for a stand-in that sees patches someone else published.
   */
  applyPublishedDesired(identity, patch) {
    if (!isObject(patch)) return;
    const twin = this.get(identity);
    const { $version, ...rest } = patch;
    merge(twin.desired, rest);
    twin.desired.$version = Number.isInteger($version) ? $version : twin.desired.$version + 1;
  }

  /**
   * A device's twin request: `operation` GET or PATCH (resource /properties/reported), `body` the
   * request's text. Returns { status, body (object, string or undefined), version? }.
   */
  request(identity, operation, resource, body) {
    const twin = this.get(identity);
    if (operation === 'GET') return { status: 200, body: structuredClone(twin) };
    if (operation === 'PATCH' && resource === '/properties/reported') {
      let patch;
      try {
        patch = JSON.parse(body);
      } catch {
        return { status: 400, body: 'the reported-properties patch is not JSON' };
      }
      if (!isObject(patch)) return { status: 400, body: 'the reported-properties patch is not a JSON object' };
      delete patch.$version;
      merge(twin.reported, patch);
      twin.reported.$version += 1;
      return { status: 204, version: twin.reported.$version };
    }
    return { status: 400, body: `twin operation '${operation}' on '${resource}' is not supported` };
  }
}
