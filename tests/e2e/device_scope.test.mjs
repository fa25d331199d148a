// Issue 8 (device scope) end to end: edgehubd synchronises the identities in its scope from the
// IoT Hub stand-in's device-scope API (lib/hub_standin.mjs, HTTPS, paged) and authenticates real
// SDK devices it has no local identity for; a disabled one is refused; an unknown device makes it
// refresh; the scope is cached in state_dir with mode 0600, so that after a restart with the hub
// gone the devices still connect. With a [gateway] proxy, the scope calls tunnel through it
// (Debian's tinyproxy).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import deviceSdk from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';

import { metricValue } from './lib/arrival.mjs';
import { connectAndSend } from './lib/device.mjs';
import { freePorts, startGateway, waitFor, EDGE_DEVICE, GATEWAY_HOST, HUB_HOST } from './lib/gateway.mjs';
import { HubStandin, signServerCertificate } from './lib/hub_standin.mjs';
import { provisioning } from './lib/upstream_setup.mjs';

const { Client } = deviceSdk;
const GW_KEY = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
const EDGEHUB_KEY = Buffer.from('fedcba9876543210fedcba9876543210').toString('base64');
const KEYS = Object.fromEntries(['scoped-1', 'scoped-2', 'scoped-off', 'late-1', 'nobody'].map(
  (id) => [id, Buffer.from(`${id}-key-0123456789abcdef`.slice(0, 32)).toString('base64')]));
const TIMEOUT = { timeout: 60000 };

function connectionString(id) {
  return `HostName=${HUB_HOST};DeviceId=${id};SharedAccessKey=${KEYS[id]};GatewayHostName=${GATEWAY_HOST}`;
}

/** One message from `id`, with the key the gateway made for it or else its key at the hub. */
const sendAs = (gateway, id) => connectAndSend(gateway, gateway.connectionString(id) ?? connectionString(id));

describe('device scope synchronised from the IoT Hub stand-in', () => {
  let gateway; let hub; let hubDir;
  before(async () => {
    // The hub runs before the gateway starts (so that the start-up sync reaches it), with a
    // certificate from a CA of its own that the gateway is told to trust.
    const [httpsPort] = await freePorts(1);
    hubDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eh-scope-hub-'));
    execFileSync(process.env.EDGEHUBCTL_BINARY, ['certs', 'demo', '--dir', path.join(hubDir, 'pki'), '--edge-name', 'hub']);
    const hubRoot = path.join(hubDir, 'pki/certs/azure-iot-test-only.root.ca.cert.pem');
    const { key: tlsKey, cert: tlsCert } = signServerCertificate({
      dir: path.join(hubDir, 'tls'), names: [HUB_HOST, 'localhost'], rootCert: hubRoot,
      rootKey: path.join(hubDir, 'pki/private/azure-iot-test-only.root.ca.key.pem') });
    const identities = { [EDGE_DEVICE]: { primaryKey: GW_KEY, edge: true },
                         [`${EDGE_DEVICE}/$edgeHub`]: { primaryKey: EDGEHUB_KEY },
                         'scoped-1': { primaryKey: KEYS['scoped-1'], parent: EDGE_DEVICE },
                         'scoped-2': { primaryKey: KEYS['scoped-2'], parent: EDGE_DEVICE },
                         'scoped-off': { primaryKey: KEYS['scoped-off'], parent: EDGE_DEVICE, status: 'disabled' },
                         // Registered, but not behind this gateway: not in its scope (yet).
                         'late-1': { primaryKey: KEYS['late-1'] } };
    hub = new HubStandin({ hubName: HUB_HOST, tlsKey, tlsCert, identities });
    await hub.start({ wssPort: httpsPort, httpsPort });
    gateway = await startGateway({
      devices: ['local-1'],
      trustAlso: [hubRoot],
      // The stand-in listens on 127.0.0.1 and serves the scope API and AMQP over WebSocket on one
      // port, the HostName's: the gateway dials it as the parent host name.
      preamble: provisioning({ port: httpsPort, deviceKey: GW_KEY, edgehubKey: EDGEHUB_KEY }),
      extraGateway: 'upstream_protocol = "amqpws"',
    });
    await waitFor(async () => metricValue(await gateway.metrics(), 'edgehubd_device_scope_sync_total',
                                          'result="ok"') >= 1, 'the start-up device-scope sync', 20000);
  });
  after(async () => {
    await hub?.stop();
    if (gateway) assert.equal(await gateway.stop(), 0, gateway.log());
    if (hubDir) fs.rmSync(hubDir, { recursive: true, force: true });
  });

  test('a device known only to the hub connects with its own key after the sync', TIMEOUT, async () => {
    await sendAs(gateway, 'scoped-1');
    await sendAs(gateway, 'scoped-2');
    await sendAs(gateway, 'local-1');  // the identities file still counts
    const calls = hub.scopeRequests.filter((r) => r.operation === 'devicesAndModulesInTargetDeviceScope');
    assert.ok(calls.length >= 1);
    assert.ok(calls.every((r) => r.status === 200 && r.edge === EDGE_DEVICE), JSON.stringify(calls));
    assert.equal(metricValue(await gateway.metrics(), 'edgehubd_device_scope_identities'), 5);  // gw, 3 devices, $edgeHub
  });

  test('an identity disabled in the scope is refused', TIMEOUT, async () => {
    await assert.rejects(sendAs(gateway, 'scoped-off'));
    const metrics = await gateway.metrics();
    assert.ok(metricValue(metrics, 'edgehub_client_connect_failed_total', 'scoped-off') >= 1, metrics);
  });

  test('the scope is cached in state_dir, readable by the owner only, keys and all', TIMEOUT, async () => {
    const file = path.join(gateway.dir, 'state', 'device-scope.json');
    await waitFor(() => fs.existsSync(file), 'the cache file', 10000);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const cache = JSON.parse(fs.readFileSync(file, 'utf8'));
    const scoped = cache.devices.find((d) => d.deviceId === 'scoped-1');
    assert.equal(scoped.authentication.symmetricKey.primaryKey, KEYS['scoped-1']);
    assert.equal(cache.devices.find((d) => d.deviceId === 'scoped-off').status, 'disabled');
    assert.ok(!gateway.log().includes(KEYS['scoped-1']), 'a synchronised key is never logged');
  });

  test('an unknown device makes the gateway refresh its scope, at most once a minute', TIMEOUT, async () => {
    const before = hub.scopeRequests.length;
    // Moved behind this gateway in IoT Hub after the last sync.
    hub.registry.get('late-1').parent = EDGE_DEVICE;
    await waitFor(async () => {
      try { await sendAs(gateway, 'late-1'); return true; } catch { return false; }
    }, 'late-1 accepted after a refresh', 40000);
    assert.ok(hub.scopeRequests.length > before);
    const metrics = await gateway.metrics();
    assert.ok(metricValue(metrics, 'edgehubd_device_scope_refresh_requests_total', 'result="accepted"') >= 1, metrics);
    // Further strangers within the minute do not call the hub again.
    const calls = hub.scopeRequests.length;
    await assert.rejects(sendAs(gateway, 'nobody'));
    assert.equal(hub.scopeRequests.length, calls);
    assert.ok(metricValue(await gateway.metrics(), 'edgehubd_device_scope_refresh_requests_total',
                          'result="rate_limited"') >= 1);
  });

  test('a device taken out of the scope loses its open connection at the next sync (a reload syncs at once)', TIMEOUT, async () => {
    const client = Client.fromConnectionString(connectionString('scoped-2'), mqttSdk.Mqtt);
    await client.setOptions({ ca: gateway.ca });
    await client.open();
    try {
      hub.registry.get('scoped-2').parent = undefined;  // moved away from this gateway in IoT Hub
      const syncs = hub.scopeRequests.length;
      gateway.child.kill('SIGHUP');
      await waitFor(() => hub.scopeRequests.length > syncs, 'the sync the reload asks for', 10000);
      await waitFor(() => gateway.log().includes('identity scoped-2 removed in the device scope: its connection is closed'),
                    'the gateway closing scoped-2', 10000);
      assert.match(gateway.log(), /device=scoped-2 .*closing: closed by the gateway: connection closed: identity revoked/);
      // (The SDK client would now retry its connection with back-off, refused each time.)
      await assert.rejects(sendAs(gateway, 'scoped-2'));
      await sendAs(gateway, 'scoped-1');  // the others keep their access
    } finally {
      await client.close().catch(() => {});
    }
  });

  test('restarted with the hub gone, the gateway still authenticates the cached scope', TIMEOUT, async () => {
    await hub.stop();
    await gateway.restart();
    // gw, $edgeHub, scoped-1, scoped-off, late-1 (scoped-2 left the scope above)
    assert.match(gateway.log(), /device scope: 5 identities from the cache/);
    await sendAs(gateway, 'scoped-1');
    await sendAs(gateway, 'late-1');
    await assert.rejects(sendAs(gateway, 'scoped-off'));
    await waitFor(async () => metricValue(await gateway.metrics(), 'edgehubd_device_scope_sync_total',
                                          'result="unreachable"') >= 1, 'the failed sync counted', 20000);
  });
});

describe('device scope through the [gateway] proxy', () => {
  let hub; let hubDir; let proxy; const gateways = [];
  let httpsPort; let proxyPort; let hubRoot;
  before(async () => {
    [httpsPort, proxyPort] = await freePorts(2);
    hubDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eh-scope-proxy-'));
    execFileSync(process.env.EDGEHUBCTL_BINARY, ['certs', 'demo', '--dir', path.join(hubDir, 'pki'), '--edge-name', 'hub']);
    hubRoot = path.join(hubDir, 'pki/certs/azure-iot-test-only.root.ca.cert.pem');
    const { key: tlsKey, cert: tlsCert } = signServerCertificate({
      dir: path.join(hubDir, 'tls'), names: [HUB_HOST, 'localhost'], rootCert: hubRoot,
      rootKey: path.join(hubDir, 'pki/private/azure-iot-test-only.root.ca.key.pem') });
    hub = new HubStandin({ hubName: HUB_HOST, tlsKey, tlsCert, identities: {
      [EDGE_DEVICE]: { primaryKey: GW_KEY, edge: true }, [`${EDGE_DEVICE}/$edgeHub`]: { primaryKey: EDGEHUB_KEY },
      'scoped-1': { primaryKey: KEYS['scoped-1'], parent: EDGE_DEVICE } } });
    await hub.start({ wssPort: httpsPort, httpsPort });
    fs.writeFileSync(path.join(hubDir, 'tinyproxy.conf'), [
      `Port ${proxyPort}`, 'Listen 127.0.0.1', 'Allow 127.0.0.1', 'Timeout 60', 'MaxClients 20',
      'LogLevel Info', 'BasicAuth edge s3cret', ''].join('\n'));
    proxy = spawn('/usr/bin/tinyproxy', ['-d', '-c', path.join(hubDir, 'tinyproxy.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    for (const stream of [proxy.stdout, proxy.stderr]) stream.on('data', (c) => { log += c.toString(); });
    await waitFor(() => log.includes('Accepting connections') || proxy.exitCode !== null, 'tinyproxy to listen', 10000);
    assert.equal(proxy.exitCode, null, log);
  });
  after(async () => {
    for (const g of gateways) assert.equal(await g.stop(), 0, g.log());
    if (proxy && proxy.exitCode === null) {
      const exited = new Promise((resolve) => proxy.on('exit', resolve));
      proxy.kill('SIGTERM');
      await exited;
    }
    await hub?.stop();
    if (hubDir) fs.rmSync(hubDir, { recursive: true, force: true });
  });
  const startBehindProxy = async (credentials) => {
    const gateway = await startGateway({
      devices: ['local-1'], trustAlso: [hubRoot],
      preamble: provisioning({ port: httpsPort, deviceKey: GW_KEY, edgehubKey: EDGEHUB_KEY }),
      extraGateway: `upstream_protocol = "amqpws"\nproxy = "http://${credentials}@127.0.0.1:${proxyPort}"`,
    });
    gateways.push(gateway);
    return gateway;
  };

  test('the sync tunnels through the proxy, and fails without its credentials', TIMEOUT, async () => {
    const refused = await startBehindProxy('edge:wrong');
    await waitFor(async () => metricValue(await refused.metrics(), 'edgehubd_device_scope_sync_total',
                                          'result="unreachable"') >= 1, 'the refused sync counted', 20000);
    assert.equal(hub.scopeRequests.length, 0, 'nothing reached the hub around the proxy');
    const gateway = await startBehindProxy('edge:s3cret');
    await waitFor(async () => metricValue(await gateway.metrics(), 'edgehubd_device_scope_sync_total',
                                          'result="ok"') >= 1, 'the sync through the proxy', 20000);
    assert.ok(hub.scopeRequests.length >= 1);
    await sendAs(gateway, 'scoped-1');
  });
});
