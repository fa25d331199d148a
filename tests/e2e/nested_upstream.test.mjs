// Issue 8, nested gateways end to end: a real SDK device -> a child edgehubd -> its parent
// edgehubd -> the IoT Hub stand-in (lib/hub_standin.mjs). The child authenticates the device at
// the parent on its behalf with the child's own $edgeHub token; the parent accepts it because the
// device sits below the child in its identities, and forwards it on behalf again with its own
// $edgeHub token and the auth chain "leaf;child-gw;gw", which the stand-in checks as IoT Hub does.
// The child reaches the parent over each device protocol: AMQP, AMQP over WebSocket, MQTT and
// MQTT over WebSocket (the parent's 443, subprotocol "mqtt").
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import deviceSdk from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';

import { freePorts, startGateway, waitFor, HUB_HOST } from './lib/gateway.mjs';
import { HubStandin } from './lib/hub_standin.mjs';
import { hubCertificateFrom, provisioning } from './lib/upstream_setup.mjs';

const { Client, Message } = deviceSdk;
const key = (text) => Buffer.from(text.padEnd(32, '.')).toString('base64');
const GW_KEY = key('gw device');
const GW_EDGEHUB_KEY = key('gw $edgeHub');
const CHILD_KEY = key('child-gw device');
const CHILD_EDGEHUB_KEY = key('child-gw $edgeHub');
const TIMEOUT = { timeout: 30000 };

// What the parent knows of the child gateway and the device behind it.
const PARENT_IDENTITIES = `
[[device]]
id = "child-gw"
edge_device = true
primary_key = "${CHILD_KEY}"

[[module]]
device = "child-gw"
id = "$edgeHub"
primary_key = "${CHILD_EDGEHUB_KEY}"

[[device]]
id = "leaf"
parent = "child-gw"
primary_key = "${key('leaf at the parent')}"
`;

for (const protocol of ['amqp', 'amqpws', 'mqtt', 'mqttws']) {
  describe(`a child gateway reaching its parent over ${protocol}, the parent reaching the hub over amqp`, () => {
    let hub; let parent; let child;
    before(async () => {
      const [amqpsPort, httpsPort] = await freePorts(2);
      parent = await startGateway({
        routes: { toHub: 'FROM /messages/* INTO $upstream' },
        preamble: provisioning({ port: amqpsPort, deviceId: 'gw', deviceKey: GW_KEY, edgehubKey: GW_EDGEHUB_KEY }),
        extraGateway: 'upstream_protocol = "amqp"\nserver_cert_extra_sans = ["localhost"]',
        identities: PARENT_IDENTITIES,
      });
      hub = new HubStandin({ hubName: HUB_HOST, ...hubCertificateFrom(parent), identities: {
        gw: { primaryKey: GW_KEY, edge: true }, 'gw/$edgeHub': { primaryKey: GW_EDGEHUB_KEY },
        'child-gw': { primaryKey: CHILD_KEY, edge: true, parent: 'gw' },
        'child-gw/$edgeHub': { primaryKey: CHILD_EDGEHUB_KEY },
        leaf: { primaryKey: key('leaf at the hub'), parent: 'child-gw' } } });
      await hub.start({ amqpsPort, wssPort: httpsPort, httpsPort });
      const parentPort = { amqp: parent.ports.amqp, amqpws: parent.ports.https, mqtt: parent.ports.mqtt,
                           mqttws: parent.ports.https }[protocol];
      child = await startGateway({
        deviceId: 'child-gw',
        devices: ['leaf'],
        routes: { toParent: 'FROM /messages/* INTO $upstream' },
        preamble: provisioning({ port: parentPort, deviceId: 'child-gw', deviceKey: CHILD_KEY,
                                 edgehubKey: CHILD_EDGEHUB_KEY }),
        extraGateway: `upstream_protocol = "${protocol}"`,
        trustAlso: [path.join(parent.dir, 'pki/certs/azure-iot-test-only.root.ca.cert.pem')],
      });
    });
    after(async () => {
      await hub?.stop();
      if (child) assert.equal(await child.stop(), 0, child.log());
      if (parent) assert.equal(await parent.stop(), 0, parent.log());
    });

    test('telemetry of a device behind the child reaches the hub as that device, through both gateways', TIMEOUT, async () => {
      const device = Client.fromConnectionString(child.connectionString('leaf'), mqttSdk.Mqtt);
      await device.setOptions({ ca: child.ca });
      await device.open();
      try {
        const arrived = hub.next('telemetry', (t) => t.identity === 'leaf', 20000);
        const message = new Message('{"temp":42}');
        message.messageId = 'nested-1';
        message.properties.add('hop', 'two');
        await device.sendEvent(message);
        const got = await arrived;
        assert.equal(got.body.toString(), '{"temp":42}');
        assert.equal(got.properties.message_id, 'nested-1');
        assert.equal(got.applicationProperties.hop, 'two');
        // The parent put the leaf's token with its own $edgeHub token and the whole chain.
        const put = hub.putTokens.find((t) => t.identity === 'leaf' && t.status === 200);
        assert.ok(put, JSON.stringify(hub.putTokens));
        assert.equal(put.authChain, 'leaf;child-gw;gw');
        // Nothing reached the hub as the child or as its $edgeHub: identities stay IoT Hub's.
        assert.ok(!hub.telemetry.some((t) => t.identity.startsWith('child-gw')));
      } finally {
        await device.close();
      }
    });

    test('a C2D message and a direct method from the hub reach the device through both gateways', TIMEOUT, async () => {
      const device = Client.fromConnectionString(child.connectionString('leaf'), mqttSdk.Mqtt);
      await device.setOptions({ ca: child.ca });
      await device.open();
      try {
        const c2d = new Promise((resolve) => device.on('message', (msg) => {
          device.complete(msg, () => {});
          resolve(msg);
        }));
        device.onDeviceMethod('ping', (request, response) => response.send(200, { pong: true }, () => {}));
        const settled = await hub.sendC2D('leaf', { body: 'down two hops', messageId: 'c2d-nested' });
        assert.equal((await c2d).data.toString(), 'down two hops');
        assert.equal(settled.outcome, 'accepted');
        let answer;
        await waitFor(async () => {
          try {
            answer = await hub.invokeMethod('leaf', { methodName: 'ping', payload: {}, timeoutMs: 5000 });
            return true;
          } catch (e) {
            if (e.status !== 404) throw e;
            return false;
          }
        }, 'the method subscription to reach the hub through both gateways', 20000);
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.payload, { pong: true });
      } finally {
        await device.close();
      }
    });
  });
}
