// Issue 6 end to end: who may connect over MQTT. Wrong key, expired token, unknown device and
// another device's id are refused while a good client keeps working; X.509 devices (CA-signed
// with CN = device id, and self-signed by thumbprint) connect; a module's output is routed to
// another module's input.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import deviceSdk from 'azure-iot-device';
import common from 'azure-iot-common';
import mqttSdk from 'azure-iot-device-mqtt';

import { GATEWAY_HOST, HUB_HOST, startGateway } from './lib/gateway.mjs';

const { Client, ModuleClient, Message } = deviceSdk;
const noRetry = new common.NoRetry();

function keyOf(connectionString) {
  return /SharedAccessKey=([^;]+)/.exec(connectionString)[1];
}

async function connect(gateway, connectionString, Transport, extra = {}) {
  const client = Client.fromConnectionString(connectionString, Transport);
  client.setRetryPolicy(noRetry);
  await client.setOptions({ ca: gateway.ca, ...extra });
  await client.open();
  return client;
}

async function refused(promise) {
  await assert.rejects(promise, (err) => {
    assert.match(err.constructor.name + ' ' + err.message, /Unauthorized|Not authorized|not authorized/i);
    return true;
  });
}

for (const [name, Transport] of [['Mqtt', mqttSdk.Mqtt], ['MqttWs', mqttSdk.MqttWs]]) {
  describe(`identities over ${name}`, () => {
    let gateway;
    before(async () => {
      gateway = await startGateway({
        devices: ['good', 'victim'],
        modules: ['producer', 'consumer'],
        x509CaDevices: ['cam-ca'],
        x509ThumbprintDevices: ['cam-thumb'],
        routes: {
          m2m: 'FROM /messages/modules/producer/outputs/out1 INTO BrokeredEndpoint("/modules/consumer/inputs/fromProducer")',
          devices: 'FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO BrokeredEndpoint("/modules/consumer/inputs/devices")',
        },
      });
    });
    after(async () => assert.equal(await gateway.stop(), 0, gateway.log()));

    test('bad credentials are refused while a good client keeps working', async () => {
      const good = await connect(gateway, gateway.connectionString('good'), Transport);
      try {
        const goodCs = gateway.connectionString('good');
        const wrongKey = goodCs.replace(keyOf(goodCs), Buffer.alloc(32, 7).toString('base64'));
        await refused(connect(gateway, wrongKey, Transport));

        const unknown = goodCs.replace('DeviceId=good', 'DeviceId=stranger');
        await refused(connect(gateway, unknown, Transport));

        // A token for the right device that expired an hour ago.
        const expired = deviceSdk.SharedAccessSignature.create(
          HUB_HOST, 'good', keyOf(goodCs), Math.floor(Date.now() / 1000) - 3600).toString();
        // A ready-made token in a connection string makes the SDK drop GatewayHostName; this
        // authentication provider keeps it (iot-hub-protocol.md §13).
        const provider = new deviceSdk.SharedAccessSignatureAuthenticationProvider({
          host: HUB_HOST, deviceId: 'good', sharedAccessSignature: expired, gatewayHostName: GATEWAY_HOST });
        const expiredClient = Client.fromAuthenticationProvider(provider, Transport);
        expiredClient.setRetryPolicy(noRetry);
        await expiredClient.setOptions({ ca: gateway.ca });
        await refused(expiredClient.open());

        // The victim's id with the good device's key: the signature does not verify.
        const impersonation = goodCs.replace('DeviceId=good', 'DeviceId=victim');
        await refused(connect(gateway, impersonation, Transport));

        await good.sendEvent(new Message('still working'));
      } finally {
        await good.close();
      }
      const text = await gateway.metrics();
      for (const reason of ["bad_signature", "unknown_identity", "token_expired"]) {
        assert.match(text, new RegExp(`edgehub_client_connect_failed_total\\{[^}]*reason="${reason}"`), reason);
      }
    });

    test('X.509 devices: CA-signed with CN = device id, and self-signed by thumbprint', async () => {
      for (const [id, selfSigned] of [['cam-ca', false], ['cam-thumb', true]]) {
        const { cert, key } = gateway.deviceCertificate(id, { selfSigned });
        // X.509 connection strings dial HostName (iot-hub-protocol.md §13): the gateway itself.
        const client = Client.fromConnectionString(`HostName=${GATEWAY_HOST};DeviceId=${id};x509=true`, Transport);
        client.setRetryPolicy(noRetry);
        await client.setOptions({ ca: gateway.ca, cert, key });
        await client.open();
        await client.sendEvent(new Message(`from ${id}`));
        await client.close();
      }
      // The CA-signed certificate of cam-ca does not make its holder cam-thumb.
      const { cert, key } = gateway.deviceCertificate('cam-ca');
      const wrong = Client.fromConnectionString(`HostName=${GATEWAY_HOST};DeviceId=cam-thumb;x509=true`, Transport);
      wrong.setRetryPolicy(noRetry);
      await wrong.setOptions({ ca: gateway.ca, cert, key });
      await refused(wrong.open());
    });

    test('a module output is routed to another module input', async () => {
      const received = [];
      const consumer = ModuleClient.fromConnectionString(gateway.connectionString('gw/consumer'), Transport);
      await consumer.setOptions({ ca: gateway.ca });
      consumer.on('inputMessage', (input, msg) => {
        received.push({ input, body: msg.data.toString(), from: msg });
        consumer.complete(msg, () => {});
      });
      await consumer.open();
      const producer = ModuleClient.fromConnectionString(gateway.connectionString('gw/producer'), Transport);
      await producer.setOptions({ ca: gateway.ca });
      await producer.open();
      try {
        const msg = new Message('{"reading":1}');
        msg.properties.add('kind', 'reading');
        await producer.sendOutputEvent('out1', msg);
        await producer.sendOutputEvent('other', new Message('not routed'));
        // The consumer also gets what devices sent earlier (input "devices"); only look at its
        // input from the producer.
        const fromProducer = () => received.filter((r) => r.input === 'fromProducer');
        const deadline = Date.now() + 15000;
        while (fromProducer().length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.equal(fromProducer().length, 1, gateway.log());
        assert.equal(fromProducer()[0].body, '{"reading":1}');
        assert.equal(fromProducer()[0].from.properties.getValue('kind'), 'reading');
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(fromProducer().length, 1, 'output "other" matches no route');
        assert.match(await gateway.metrics(),
                     /edgehub_messages_dropped_total\{reason="no_route",from="gw\/producer",from_route_output="other"[^}]*\} 1/,
                     'acknowledged, dropped and counted');
      } finally {
        await producer.close();
        await consumer.close();
      }
    });
  });
}
