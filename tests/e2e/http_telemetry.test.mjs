// Issue 9 end to end: devices send telemetry over the gateway's HTTPS API — with the real SDK's
// Http transport (single and batch) and with curl and a SAS header — and a module receives every
// message through a route with its properties. The SDK's Http transport dials HostName and
// ignores GatewayHostName (iot-hub-protocol.md §11.1), so an HTTPS device behind the gateway
// names the gateway in HostName; its SAS audience then names the gateway, which edgehubd accepts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import commonSdk from 'azure-iot-common';
import deviceSdk from 'azure-iot-device';
import httpSdk from 'azure-iot-device-http';
import mqttSdk from 'azure-iot-device-mqtt';

import { EDGE_DEVICE, GATEWAY_HOST, HUB_HOST, startGateway, viaGateway } from './lib/gateway.mjs';

const { Client, ModuleClient, Message } = deviceSdk;
const { SharedAccessSignature } = commonSdk;

async function waitFor(list, n, log) {
  const deadline = Date.now() + 15000;
  while (list.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(list.length, n, log());
}

describe('telemetry over HTTPS', () => {
  let gateway;
  let module;
  const received = [];
  before(async () => {
    gateway = await startGateway({
      devices: ['http-sensor', 'curl-sensor'],
      modules: ['sink'],
      routes: { toSink: 'FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO BrokeredEndpoint("/modules/sink/inputs/in")' },
    });
    module = ModuleClient.fromConnectionString(gateway.connectionString(`${EDGE_DEVICE}/sink`), mqttSdk.Mqtt);
    await module.setOptions({ ca: gateway.ca });
    module.on('inputMessage', (input, msg) => {
      received.push(msg);
      module.complete(msg, () => {});
    });
    await module.open();
  });
  after(async () => {
    await module.close();
    assert.equal(await gateway.stop(), 0, gateway.log());
  });

  test('the SDK Http transport sends single messages and a batch', async () => {
    const client = Client.fromConnectionString(viaGateway(gateway.connectionString('http-sensor')), httpSdk.Http);
    // The Http transport calls back from setOptions only when receive-policy options are given
    // (azure-iot-device-http 1.x); manual polling also keeps it from polling C2D on its own.
    await client.setOptions({ ca: gateway.ca, http: { receivePolicy: { manualPolling: true } } });
    const single = new Message(JSON.stringify({ temp: 21 }));
    single.messageId = 'http-1';
    single.correlationId = 'corr-1';
    single.contentType = 'application/json';
    single.contentEncoding = 'utf-8';
    single.properties.add('alert', 'high');
    await client.sendEvent(single);

    const batch = [0, 1, 2].map((i) => {
      const m = new Message(`batch-${i}`);
      m.properties.add('index', String(i));
      return m;
    });
    await client.sendEventBatch(batch);
    await client.close();
    await waitFor(received, 4, gateway.log);

    const first = received[0];
    assert.equal(first.data.toString(), JSON.stringify({ temp: 21 }));
    assert.equal(first.messageId, 'http-1');
    assert.equal(first.correlationId, 'corr-1');
    assert.equal(first.contentType, 'application/json');
    assert.equal(first.contentEncoding, 'utf-8');
    assert.equal(first.properties.getValue('alert'), 'high');
    assert.deepEqual(received.slice(1).map((m) => [m.data.toString(), m.properties.getValue('index')]),
                     [['batch-0', '0'], ['batch-1', '1'], ['batch-2', '2']]);
    received.length = 0;
  });

  test('curl with a SAS header sends telemetry; a foreign token is refused', async () => {
    const cs = Object.fromEntries(gateway.connectionString('curl-sensor').split(';').map((kv) => kv.split(/=(.*)/s).slice(0, 2)));
    const token = SharedAccessSignature.create(`${HUB_HOST}/devices/curl-sensor`, undefined, cs.SharedAccessKey,
                                               Math.floor(Date.now() / 1000) + 3600).toString();
    const caFile = path.join(gateway.dir, 'ca.pem');
    fs.writeFileSync(caFile, gateway.ca);
    const curl = (device, auth) => execFileSync('curl', [
      '--silent', '--output', '/dev/null', '--write-out', '%{http_code}',
      '--cacert', caFile, '--resolve', `${GATEWAY_HOST}:${gateway.ports.https}:127.0.0.1`,
      '-H', `Authorization: ${auth}`, '-H', 'iothub-app-source: curl', '-H', 'iothub-messageid: curl-1',
      '-H', 'iothub-contenttype: text/plain',
      '--data-binary', 'from curl',
      `https://${GATEWAY_HOST}:${gateway.ports.https}/devices/${device}/messages/events?api-version=2021-04-12`,
    ], { encoding: 'utf8' });
    assert.equal(curl('curl-sensor', token), '204');
    assert.equal(curl('http-sensor', token), '401', 'a device sends only as itself');
    await waitFor(received, 1, gateway.log);
    assert.equal(received[0].data.toString(), 'from curl');
    assert.equal(received[0].messageId, 'curl-1');
    assert.equal(received[0].contentType, 'text/plain');
    assert.equal(received[0].properties.getValue('source'), 'curl');
  });
});
