// Issue 7 end to end: the real Azure IoT device SDK over AMQP (TLS on 5671, and WebSocket on
// 443) sends telemetry through edgehubd; routes deliver it to a module's input with every
// property intact and per-device order kept; WHERE filters on application properties and on
// $body select messages; a module that connects late receives what was queued for it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import deviceSdk from 'azure-iot-device';
import common from 'azure-iot-common';
import amqpSdk from 'azure-iot-device-amqp';

import { startGateway } from './lib/gateway.mjs';

const { Client, ModuleClient, Message } = deviceSdk;
// No retries: a refusal surfaces at once as the SDK's error instead of a test timeout.
const noRetry = new common.NoRetry();
const TIMEOUT = { timeout: 30000 };

async function openDevice(gateway, id, Transport) {
  const client = Client.fromConnectionString(gateway.connectionString(id), Transport);
  client.setRetryPolicy(noRetry);
  await client.setOptions({ ca: gateway.ca });
  await client.open();
  return client;
}

async function openModule(gateway, id, Transport, onInput) {
  const client = ModuleClient.fromConnectionString(gateway.connectionString(`gw/${id}`), Transport);
  client.setRetryPolicy(noRetry);
  await client.setOptions({ ca: gateway.ca });
  client.on('inputMessage', (input, msg) => {
    onInput(input, msg);
    client.complete(msg, () => {});
  });
  await client.open();
  return client;
}

async function waitFor(condition, ms = 15000) {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

for (const [name, Transport] of [['Amqp', amqpSdk.Amqp], ['AmqpWs', amqpSdk.AmqpWs]]) {
  describe(`telemetry over ${name}`, () => {
    let gateway;
    before(async () => {
      gateway = await startGateway({
        devices: ['sensor-1', 'sensor-2'],
        modules: ['filter'],
        routes: {
          toFilter: 'FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO BrokeredEndpoint("/modules/filter/inputs/in1")',
          hot: 'FROM /messages/* WHERE $body.temp > 50 INTO BrokeredEndpoint("/modules/filter/inputs/hot")',
          byProperty: "FROM /messages/* WHERE alert = 'high' INTO BrokeredEndpoint(\"/modules/filter/inputs/alerts\")",
        },
      });
    });
    after(async () => {
      assert.equal(await gateway.stop(), 0, gateway.log());
    });

    test('a device message reaches a module input with every property, in order', TIMEOUT, async () => {
      const received = [];
      const module = await openModule(gateway, 'filter', Transport, (input, msg) => received.push({ input, msg }));
      const device = await openDevice(gateway, 'sensor-1', Transport);
      // The SDK sends a UUID-shaped id as an AMQP uuid; receivers must get the same text back
      // (iot-hub-protocol.md §3.4, §13).
      const uuidId = '6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b';
      const messageId = (i) => (i === 4 ? uuidId : `msg-${i}`);
      try {
        for (let i = 0; i < 5; i++) {
          const msg = new Message(JSON.stringify({ seq: i, temp: 20 }));
          msg.messageId = messageId(i);
          msg.correlationId = `corr-${i}`;
          msg.contentType = 'application/json';
          msg.contentEncoding = 'utf-8';
          msg.properties.add('alert', i === 3 ? 'high' : 'low');
          msg.properties.add('a&b=c', 'x/y?z');
          await device.sendEvent(msg);
        }
        await waitFor(() => received.filter((r) => r.input === 'in1').length >= 5);
        const in1 = received.filter((r) => r.input === 'in1');
        assert.equal(in1.length, 5, gateway.log());
        in1.forEach(({ msg }, i) => {
          assert.equal(JSON.parse(msg.data.toString()).seq, i, 'per-device order');
          assert.equal(String(msg.messageId), messageId(i));
          assert.equal(String(msg.correlationId), `corr-${i}`);
          assert.equal(msg.contentType, 'application/json');
          assert.equal(msg.contentEncoding, 'utf-8');
          assert.equal(msg.properties.getValue('alert'), i === 3 ? 'high' : 'low');
          assert.equal(msg.properties.getValue('a&b=c'), 'x/y?z');
        });
        const alerts = received.filter((r) => r.input === 'alerts');
        assert.equal(alerts.length, 1, 'the WHERE filter on an application property');
        assert.equal(JSON.parse(alerts[0].msg.data.toString()).seq, 3);
        assert.equal(received.filter((r) => r.input === 'hot').length, 0, 'the $body filter matched nothing hot');

        const expectations = [
          [/edgehub_messages_received_total\{id="sensor-1"[^}]*\} (\d+)/, 5],
          [/edgehub_messages_sent_total\{from="sensor-1",to="gw\/filter"[^}]*to_route_input="in1"[^}]*\} (\d+)/, 5],
          [/edgehub_client_connect_success_total\{id="sensor-1"[^}]*\} (\d+)/, 1],
          // edgehubd labels AMQP over WebSocket "amqpws" (src/amqp/session.hpp).
          [new RegExp(`edgehubd_bytes_received_total\\{protocol="${name.toLowerCase()}"[^}]*\\} (\\d+)`), 1],
          [new RegExp(`edgehubd_bytes_sent_total\\{protocol="${name.toLowerCase()}"[^}]*\\} (\\d+)`), 1],
        ];
        let metrics = '';
        let unmet = expectations;
        for (let i = 0; i < 50 && unmet.length > 0; i++) {
          metrics = await gateway.metrics();
          unmet = expectations.filter(([re, min]) => !(Number((metrics.match(re) || [])[1] ?? NaN) >= min));
          if (unmet.length > 0) await new Promise((r) => setTimeout(r, 100));
        }
        assert.deepEqual(unmet.map(([re]) => String(re)), [], metrics);
      } finally {
        await device.close();
        await module.close();
      }
    });

    test('a $body filter routes only matching messages', TIMEOUT, async () => {
      const received = [];
      const module = await openModule(gateway, 'filter', Transport, (input, msg) => received.push({ input, msg }));
      const device = await openDevice(gateway, 'sensor-2', Transport);
      try {
        for (const temp of [10, 70, 40, 90]) {
          const msg = new Message(JSON.stringify({ temp }));
          msg.contentType = 'application/json';
          msg.contentEncoding = 'utf-8';
          await device.sendEvent(msg);
        }
        await waitFor(() => received.filter((r) => r.input === 'hot').length >= 2);
        const hot = received.filter((r) => r.input === 'hot').map((r) => JSON.parse(r.msg.data.toString()).temp);
        assert.deepEqual(hot, [70, 90], gateway.log());
      } finally {
        await device.close();
        await module.close();
      }
    });

    test('a module that connects late receives what was queued for it', TIMEOUT, async () => {
      const device = await openDevice(gateway, 'sensor-1', Transport);
      for (let i = 0; i < 3; i++) {
        await device.sendEvent(new Message(JSON.stringify({ late: i })));  // accepted after the commit
      }
      await device.close();
      const received = [];
      const module = await openModule(gateway, 'filter', Transport, (input, msg) => {
        const body = JSON.parse(msg.data.toString());
        // Earlier tests' messages to in1 may still be queued: look only at this test's.
        if (input === 'in1' && 'late' in body) received.push(body);
      });
      try {
        await waitFor(() => received.length >= 3);
        assert.deepEqual(received.map((r) => r.late), [0, 1, 2], gateway.log());
      } finally {
        await module.close();
      }
    });
  });
}
