// IoT Hub's AMQP link addresses (iot-hub-protocol.md §3.3): a bare path or amqps://host[:port]/path,
// literal segments matched case-insensitively, ids URL-decoded. Part of the IoT Hub stand-in.

const FEATURES = [
  ['messages/events', 'telemetry'],
  ['messages/devicebound', 'c2d'],
  ['methods/devicebound', 'methods'],
  ['twin', 'twin'],
];

/**
 * { feature: 'cbs' } for '$cbs'; { feature, identity } for a device or module path, with
 * feature one of telemetry, c2d, methods, twin; null for anything else.
 */
export function parseAddress(address) {
  if (typeof address !== 'string') return null;
  if (address === '$cbs') return { feature: 'cbs' };
  const path = address.replace(/^amqps:\/\/[^/]*/i, '');
  const match = /^\/devices\/([^/]+)(?:\/modules\/([^/]+))?\/(.+)$/i.exec(path);
  if (!match) return null;
  const feature = FEATURES.find(([suffix]) => suffix === match[3].toLowerCase())?.[1];
  if (!feature) return null;
  let device, module;
  try {
    device = decodeURIComponent(match[1]);
    module = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
  } catch {
    return null;
  }
  return { feature, identity: module === undefined ? device : `${device}/${module}` };
}
