// Runs a real edgehubd for end-to-end tests with the Azure IoT device SDK: a demo PKI and
// identities made by edgehubctl, a configuration on free loopback ports, and a redirect of the
// SDK's fixed ports (8883, 5671, 443 on the gateway host name) to those ports. The SDK keeps
// its SNI and Host values, as it would against a gateway on the standard ports
// (iot-hub-protocol.md §13).
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

export const GATEWAY_HOST = 'gw.test.local';
export const HUB_HOST = 'hub.azure-devices.net';
export const EDGE_DEVICE = 'gw';

const edgehubd = process.env.EDGEHUBD_BINARY;
const edgehubctl = process.env.EDGEHUBCTL_BINARY;
if (!edgehubd || !edgehubctl) throw new Error('set EDGEHUBD_BINARY and EDGEHUBCTL_BINARY');

/** `n` distinct free loopback ports: all stay bound until every one is chosen. */
export async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      await new Promise((resolve, reject) => {
        server.on('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      servers.push(server);
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

const redirects = new Map();  // standard port -> real port, for GATEWAY_HOST
const originalConnect = tls.connect;
tls.connect = function connect(...args) {
  // Both call forms: tls.connect(options[, callback]) (mqtt.js, ws) and
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
  if (options && options.host === GATEWAY_HOST && redirects.has(Number(options.port))) {
    return originalConnect.call(tls, { ...options, host: '127.0.0.1', port: redirects.get(Number(options.port)),
                                       servername: options.servername || GATEWAY_HOST }, ...rest);
  }
  return originalConnect.apply(tls, args);
};

function ctl(args) {
  return execFileSync(edgehubctl, args, { encoding: 'utf8' });
}

/**
 * Starts edgehubd. `routes` maps route names to route strings; `devices` and `modules` are
 * identity ids to create (SAS); `preamble` is placed before [edge_ca] (top-level keys, or a
 * [provisioning] table), `extraGateway` inside [gateway]. `deviceId` is the gateway's own device
 * (when [provisioning] does not name it), `identities` TOML appended to the identities file, and
 * `trustAlso` more CA certificate files to trust besides the gateway's own demo root (a parent
 * gateway's). Returns connection strings, the CA to trust and stop().
 */
export async function startGateway({ routes = {}, devices = [], modules = [], x509CaDevices = [],
                                    x509ThumbprintDevices = [], extraGateway = '', preamble = '',
                                    deviceId = EDGE_DEVICE, identities = '', trustAlso = [] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eh-e2e-'));
  fs.chmodSync(dir, 0o700);
  const certDevices = [...x509CaDevices, ...x509ThumbprintDevices].flatMap((id) => ['--device', id]);
  ctl(['certs', 'demo', '--dir', path.join(dir, 'pki'), '--edge-name', 'gw', ...certDevices]);
  const [mqtt, amqp, https, metrics] = await freePorts(4);
  const ports = { mqtt, amqp, https, metrics };
  const routeLines = Object.entries(routes).map(([name, text]) => `${name} = ${JSON.stringify(text)}`);
  const root = path.join(dir, 'pki/certs/azure-iot-test-only.root.ca.cert.pem');
  const trustBundle = path.join(dir, 'trust-bundle.pem');
  fs.writeFileSync(trustBundle, [root, ...trustAlso].map((f) => fs.readFileSync(f, 'utf8')).join(''));
  const config = [
    `hostname = "${GATEWAY_HOST}"`,
    `trust_bundle_cert = "file://${trustBundle}"`,
    preamble,  // top-level keys and tables such as [provisioning]
    '[edge_ca]',
    `cert = "file://${dir}/pki/certs/iot-edge-device-ca-gw-full-chain.cert.pem"`,
    `pk = "file://${dir}/pki/private/iot-edge-device-ca-gw.key.pem"`,
    '[gateway]',
    `device_id = "${deviceId}"`,
    `iothub_hostname = "${HUB_HOST}"`,
    `state_dir = "file://${dir}/state"`,
    `identities = "file://${dir}/identities.toml"`,
    `metrics = "127.0.0.1:${ports.metrics}"`,
    extraGateway,
    '[gateway.listen]',
    `mqtt = "127.0.0.1:${ports.mqtt}"`,
    `amqp = "127.0.0.1:${ports.amqp}"`,
    `https = "127.0.0.1:${ports.https}"`,
    '[gateway.routes]',
    ...routeLines,
    '',
  ].join('\n');
  const configPath = path.join(dir, 'config.toml');
  fs.writeFileSync(configPath, config);
  const connectionStrings = {};
  for (const id of devices) {
    connectionStrings[id] = ctl(['identity', 'add', id, '--config', configPath]).trim();
  }
  for (const id of x509CaDevices) {
    connectionStrings[id] = ctl(['identity', 'add', id, '--x509-ca', '--config', configPath]).trim();
  }
  for (const id of x509ThumbprintDevices) {
    const cert = new crypto.X509Certificate(fs.readFileSync(path.join(dir, `pki/certs/iot-device-${id}-selfsigned.cert.pem`)));
    const thumbprint = cert.fingerprint256.replaceAll(':', '');
    connectionStrings[id] = ctl(['identity', 'add', id, '--x509-thumbprint', thumbprint, '--config', configPath]).trim();
  }
  for (const id of modules) {
    connectionStrings[`${deviceId}/${id}`] = ctl(['identity', 'add', id, '--module', '--config', configPath]).trim();
  }
  if (identities) fs.appendFileSync(path.join(dir, 'identities.toml'), `\n${identities}\n`, { mode: 0o600 });

  let daemon = await spawnDaemon(configPath);
  redirects.set(8883, ports.mqtt);
  redirects.set(5671, ports.amqp);
  redirects.set(443, ports.https);

  return {
    dir, ports,
    /** The running edgehubd process (a new one after restart()). */
    get child() { return daemon.child; },
    ca: fs.readFileSync(path.join(dir, 'pki/certs/azure-iot-test-only.root.ca.cert.pem'), 'utf8'),
    connectionString: (id) => connectionStrings[id],
    /** PEM certificate and key of a demo device: CA-signed, or the self-signed one. */
    deviceCertificate: (id, { selfSigned = false } = {}) => ({
      cert: fs.readFileSync(path.join(dir, `pki/certs/iot-device-${id}${selfSigned ? '-selfsigned' : '-full-chain'}.cert.pem`), 'utf8'),
      key: fs.readFileSync(path.join(dir, `pki/private/iot-device-${id}${selfSigned ? '-selfsigned' : ''}.key.pem`), 'utf8'),
    }),
    /** Everything every edgehubd process of this gateway logged so far. */
    log: () => daemon.log(),
    metrics: async () => {
      const res = await fetch(`http://127.0.0.1:${ports.metrics}/metrics`);
      return res.text();
    },
    /** Stops edgehubd with `signal` (SIGKILL: a crash) keeping its directory, and starts it
     *  again on the same configuration; resolves when it is ready. SIGTERM must exit 0. */
    async restart({ signal = 'SIGTERM' } = {}) {
      const code = await terminate(daemon.child, signal);
      if (signal === 'SIGTERM') assert.equal(code, 0, daemon.log());
      daemon = await spawnDaemon(configPath, daemon.log());
    },
    /** Stops edgehubd (SIGTERM) and removes its directory; resolves with the exit code. */
    async stop() {
      const code = await terminate(daemon.child, 'SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Starts edgehubd on `configPath` and resolves once it logs that it is ready. `earlier`: the log
 *  of the processes before it, kept in front of this one's. */
async function spawnDaemon(configPath, earlier = '') {
  const child = spawn(edgehubd, ['--config', configPath, '--log-target', 'stderr', '--log-level', 'debug'],
                      { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`edgehubd not ready:\n${earlier}${log}`)), 20000);
    child.stderr.on('data', (chunk) => {
      log += chunk.toString();
      if (log.includes(' ready: ')) { clearTimeout(timer); resolve(); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`edgehubd exited ${code}:\n${earlier}${log}`)); });
  });
  return { child, log: () => earlier + log };
}

/** Sends `signal` to a running edgehubd and resolves with its exit code (or signal name). */
async function terminate(child, signal) {
  child.removeAllListeners('exit');
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig)));
  child.kill(signal);
  return exited;
}

/** Resolves with the next value `register(callback)` delivers, or rejects after `ms`. */
export function nextEvent(register, ms = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for an event')), ms);
    register((...values) => { clearTimeout(timer); resolve(values); });
  });
}

/** Polls `predicate` (may be async) every 50 ms until it holds; throws after `ms`. */
export async function waitFor(predicate, what, ms = 30000) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A device connection string for the SDK's Http transport, which dials HostName and ignores
 * GatewayHostName (iot-hub-protocol.md §11.1): HostName names the gateway instead.
 */
export function viaGateway(connectionString) {
  return connectionString.split(';')
    .filter((kv) => !kv.startsWith('GatewayHostName='))
    .map((kv) => (kv.startsWith('HostName=') ? `HostName=${GATEWAY_HOST}` : kv))
    .join(';');
}
