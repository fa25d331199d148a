// Issue 7 end to end: who may connect over AMQP (TLS and WebSocket). A wrong key, an unknown
// device, an expired token and another device's id are refused by CBS with the SDK's
// UnauthorizedError while a good client keeps working; X.509 devices (CA-signed with CN = device
// id, and self-signed by thumbprint) connect without SASL or CBS; a module's output is routed to
// another module's input.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import deviceSdk from 'azure-iot-device';
import common from 'azure-iot-common';
import amqpSdk from 'azure-iot-device-amqp';

import { GATEWAY_HOST, HUB_HOST, startGateway } from './lib/gateway.mjs';

const { Client, ModuleClient, Message } = deviceSdk;
const noRetry = new common.NoRetry();
const TIMEOUT = { timeout: 30000 };

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
    assert.equal(err.constructor.name, 'UnauthorizedError', `${err.constructor.name}: ${err.message}`);
    return true;
  });
}

for (const [name, Transport] of [['Amqp', amqpSdk.Amqp], ['AmqpWs', amqpSdk.AmqpWs]]) {
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
        },
      });
    });
    after(async () => assert.equal(await gateway.stop(), 0, gateway.log()));

    test('bad credentials are refused with UnauthorizedError while a good client keeps working', TIMEOUT, async () => {
      const good = await connect(gateway, gateway.connectionString('good'), Transport);
      try {
        const goodCs = gateway.connectionString('good');
        const wrongKey = goodCs.replace(keyOf(goodCs), Buffer.alloc(32, 7).toString('base64'));
        await refused(connect(gateway, wrongKey, Transport));

        const unknown = goodCs.replace('DeviceId=good', 'DeviceId=stranger');
        await refused(connect(gateway, unknown, Transport));

        const expired = deviceSdk.SharedAccessSignature.create(
          HUB_HOST, 'good', keyOf(goodCs), Math.floor(Date.now() / 1000) - 3600).toString();
        const provider = new deviceSdk.SharedAccessSignatureAuthenticationProvider({
          host: HUB_HOST, deviceId: 'good', sharedAccessSignature: expired, gatewayHostName: GATEWAY_HOST });
        const expiredClient = Client.fromAuthenticationProvider(provider, Transport);
        expiredClient.setRetryPolicy(noRetry);
        await expiredClient.setOptions({ ca: gateway.ca });
        await refused(expiredClient.open());

        const impersonation = goodCs.replace('DeviceId=good', 'DeviceId=victim');
        await refused(connect(gateway, impersonation, Transport));

        await good.sendEvent(new Message('still working'));
      } finally {
        await good.close();
      }
      const text = await gateway.metrics();
      for (const reason of ['bad_signature', 'unknown_identity', 'token_expired']) {
        assert.match(text, new RegExp(`edgehub_client_connect_failed_total\\{[^}]*reason="${reason}"`), reason);
      }
    });

    test('X.509 devices: CA-signed with CN = device id, and self-signed by thumbprint', TIMEOUT, async () => {
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
      // The CA-signed certificate of cam-ca does not make its holder cam-thumb. Without CBS the
      // refusal comes at link attach, so it surfaces from sendEvent (iot-hub-protocol.md §13).
      const { cert, key } = gateway.deviceCertificate('cam-ca');
      const wrong = Client.fromConnectionString(`HostName=${GATEWAY_HOST};DeviceId=cam-thumb;x509=true`, Transport);
      wrong.setRetryPolicy(noRetry);
      await wrong.setOptions({ ca: gateway.ca, cert, key });
      try {
        await refused((async () => {
          await wrong.open();
          await wrong.sendEvent(new Message('not mine'));
        })());
      } finally {
        await wrong.close().catch(() => {});
      }
    });

    test('a module output is routed to another module input', TIMEOUT, async () => {
      const received = [];
      const consumer = ModuleClient.fromConnectionString(gateway.connectionString('gw/consumer'), Transport);
      consumer.setRetryPolicy(noRetry);
      await consumer.setOptions({ ca: gateway.ca });
      consumer.on('inputMessage', (input, msg) => {
        received.push({ input, body: msg.data.toString(), msg });
        consumer.complete(msg, () => {});
      });
      await consumer.open();
      const producer = ModuleClient.fromConnectionString(gateway.connectionString('gw/producer'), Transport);
      producer.setRetryPolicy(noRetry);
      await producer.setOptions({ ca: gateway.ca });
      await producer.open();
      try {
        const msg = new Message('{"reading":1}');
        msg.properties.add('kind', 'reading');
        await producer.sendOutputEvent('out1', msg);
        await producer.sendOutputEvent('other', new Message('not routed'));
        const deadline = Date.now() + 15000;
        while (received.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.equal(received.length, 1, gateway.log());
        assert.equal(received[0].input, 'fromProducer');
        assert.equal(received[0].body, '{"reading":1}');
        assert.equal(received[0].msg.properties.getValue('kind'), 'reading');
        // The unrouted output is acknowledged, dropped and counted; poll until the counter shows it.
        const dropped = /edgehub_messages_dropped_total\{reason="no_route",from="gw\/producer",from_route_output="other"[^}]*\} 1/;
        let metrics = '';
        for (let i = 0; i < 50 && !dropped.test(metrics); i++) {
          metrics = await gateway.metrics();
          if (!dropped.test(metrics)) await new Promise((r) => setTimeout(r, 100));
        }
        assert.match(metrics, dropped);
        assert.equal(received.length, 1, 'output "other" matches no route');
      } finally {
        await producer.close();
        await consumer.close();
      }
    });
  });
}
