// Issue 8: the WebSocket upstream through an HTTP proxy. Debian's tinyproxy, with Basic
// authentication, stands between edgehubd (upstream_protocol = "amqpws", [gateway] proxy) and the
// IoT Hub stand-in: telemetry arrives through the proxy's CONNECT tunnel, and wrong proxy
// credentials keep the gateway offline with the reason in its log.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import deviceSdk from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';

import { freePorts, startGateway, waitFor, EDGE_DEVICE, HUB_HOST } from './lib/gateway.mjs';
import { HubStandin } from './lib/hub_standin.mjs';
import { hubCertificateFrom, provisioning } from './lib/upstream_setup.mjs';

const { Client, Message } = deviceSdk;
const GW_KEY = Buffer.from('proxy test gateway key 32 bytes!').toString('base64');
const EDGEHUB_KEY = Buffer.from('proxy test $edgeHub key 32 bytes').toString('base64');
const TIMEOUT = { timeout: 30000 };

/** tinyproxy in the foreground on 127.0.0.1:`port`, user "edge" with password "s3cret". */
class Proxy {
  constructor(dir, port) {
    Object.assign(this, { dir, port, log: '' });
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'tinyproxy.conf'), [
      `Port ${port}`, 'Listen 127.0.0.1', 'Allow 127.0.0.1', 'Timeout 60', 'MaxClients 20',
      'LogLevel Info', 'BasicAuth edge s3cret', ''].join('\n'));
  }
  async start() {
    this.child = spawn('/usr/bin/tinyproxy', ['-d', '-c', path.join(this.dir, 'tinyproxy.conf')],
                       { stdio: ['ignore', 'pipe', 'pipe'] });
    for (const s of [this.child.stdout, this.child.stderr]) s.on('data', (c) => { this.log += c.toString(); });
    await waitFor(() => this.log.includes('Accepting connections') || this.child.exitCode !== null,
                  'tinyproxy to listen', 10000);
    assert.equal(this.child.exitCode, null, this.log);
  }
  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.on('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

describe('the AMQP-over-WebSocket upstream through an HTTP proxy', () => {
  let hub; let proxy; let httpsPort; let proxyPort; let first;
  const gateways = [];
  const startBehindProxy = (credentials, trustAlso = []) => startGateway({
    devices: ['sensor-1'],
    routes: { toHub: 'FROM /messages/* INTO $upstream' },
    preamble: provisioning({ port: httpsPort, deviceKey: GW_KEY, edgehubKey: EDGEHUB_KEY }),
    extraGateway: `upstream_protocol = "amqpws"\nproxy = "http://${credentials}@127.0.0.1:${proxyPort}"`,
    trustAlso,
  }).then((g) => { gateways.push(g); return g; });

  before(async () => {
    [httpsPort, proxyPort] = await freePorts(2);
    proxy = new Proxy(fs.mkdtempSync(path.join(os.tmpdir(), 'eh-proxy-')), proxyPort);
    await proxy.start();
    // The hub's certificate comes from the first gateway's demo PKI; a second gateway trusts it.
    first = await startBehindProxy('edge:s3cret');
    hub = new HubStandin({ hubName: HUB_HOST, ...hubCertificateFrom(first), identities: {
      [EDGE_DEVICE]: { primaryKey: GW_KEY, edge: true }, [`${EDGE_DEVICE}/$edgeHub`]: { primaryKey: EDGEHUB_KEY },
      'sensor-1': { primaryKey: GW_KEY, parent: EDGE_DEVICE } } });
    await hub.start({ wssPort: httpsPort, httpsPort });
  });
  after(async () => {
    await hub?.stop();
    await proxy?.stop();
    if (proxy) fs.rmSync(proxy.dir, { recursive: true, force: true });
    for (const g of gateways.reverse()) assert.equal(await g.stop(), 0, g.log());
  });

  test('telemetry reaches the hub through the proxy\'s CONNECT tunnel', TIMEOUT, async () => {
    const gateway = first;
    const device = Client.fromConnectionString(gateway.connectionString('sensor-1'), mqttSdk.Mqtt);
    await device.setOptions({ ca: gateway.ca });
    await device.open();
    try {
      const arrived = hub.next('telemetry', (t) => t.identity === 'sensor-1', 20000);
      await device.sendEvent(new Message('through the proxy'));
      assert.equal((await arrived).body.toString(), 'through the proxy');
      assert.match(proxy.log, new RegExp(`CONNECT (localhost|127\\.0\\.0\\.1):${httpsPort}`));
      assert.equal(hub.connections().filter((c) => c.transport === 'wss').length, 1);
    } finally {
      await device.close();
    }
  });

  test('wrong proxy credentials keep the upstream offline and say why', TIMEOUT, async () => {
    const gateway = await startBehindProxy('edge:wrong',
                                           [path.join(first.dir, 'pki/certs/azure-iot-test-only.root.ca.cert.pem')]);
    const device = Client.fromConnectionString(gateway.connectionString('sensor-1'), mqttSdk.Mqtt);
    await device.setOptions({ ca: gateway.ca });
    await device.open();
    try {
      await device.sendEvent(new Message('held back'));  // committed to the store, not forwarded
      await waitFor(() => gateway.log().includes('through the proxy failed: Permission denied'),
                    'the proxy refusal in the log', 20000);
      assert.ok(!hub.telemetry.some((t) => t.body.toString() === 'held back'));
    } finally {
      await device.close();
    }
  });
});
