// Lets an in-process client that dials IoT Hub's fixed ports (the Node SDK: {hub}:5671 for AMQP,
// {hub}:443 for AMQP over WebSocket) reach the stand-in on its free loopback ports, keeping the
// SNI name, as lib/gateway.mjs does for the gateway host.
import tls from 'node:tls';

const redirects = new Map();  // `${host}:${port}` (host lower-case) -> real port

const originalConnect = tls.connect;
tls.connect = function connect(...args) {
  // Both call forms: tls.connect(options[, callback]) (ws) and
  // tls.connect(port[, host][, options][, callback]) (rhea, the AMQP transport).
  let options = null;
  let rest = [];
  if (args.length > 0 && typeof args[0] === 'object' && args[0] !== null) {
    [options, ...rest] = args;
  } else if (typeof args[0] === 'number' || typeof args[0] === 'string') {
    const [port, ...more] = args;
    const host = typeof more[0] === 'string' ? more.shift() : undefined;
    const given = typeof more[0] === 'object' && more[0] !== null ? more.shift() : {};
    options = { ...given, port, host: host ?? given.host };
    rest = more;
  }
  const key = options && `${String(options.host).toLowerCase()}:${Number(options.port)}`;
  if (key && redirects.has(key)) {
    return originalConnect.call(tls, { ...options, host: '127.0.0.1', port: redirects.get(key),
                                       servername: options.servername || options.host }, ...rest);
  }
  return originalConnect.apply(tls, args);
};

/** From now on, TLS connections to host:fromPort go to 127.0.0.1:toPort. */
export function redirectTls(host, fromPort, toPort) {
  redirects.set(`${host.toLowerCase()}:${fromPort}`, toPort);
}
