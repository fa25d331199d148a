// Issue 7 end to end: twins over AMQP (TLS and WebSocket) with the real SDK, before any upstream
// exists: GET returns the local twin, a reported-properties patch is validated, persisted and
// versioned, a later GET shows it, the desired-properties subscription is answered; devices and
// modules each have their own twin.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import deviceSdk from 'azure-iot-device';
import common from 'azure-iot-common';
import amqpSdk from 'azure-iot-device-amqp';

import { startGateway } from './lib/gateway.mjs';

const { Client, ModuleClient } = deviceSdk;
// No retries: a refusal surfaces at once as the SDK's error instead of a test timeout.
const noRetry = new common.NoRetry();
const TIMEOUT = { timeout: 30000 };

function update(twin, patch) {
  return new Promise((resolve, reject) => twin.properties.reported.update(patch, (err) => (err ? reject(err) : resolve())));
}

for (const [name, Transport] of [['Amqp', amqpSdk.Amqp], ['AmqpWs', amqpSdk.AmqpWs]]) {
  describe(`twin over ${name}`, () => {
    let gateway;
    before(async () => {
      gateway = await startGateway({ devices: ['thermostat'], modules: ['filter'] });
    });
    after(async () => assert.equal(await gateway.stop(), 0, gateway.log()));

    test('device twin: get, reported patch, get again', TIMEOUT, async () => {
      const client = Client.fromConnectionString(gateway.connectionString('thermostat'), Transport);
      client.setRetryPolicy(noRetry);
      await client.setOptions({ ca: gateway.ca });
      await client.open();
      try {
        let twin = await client.getTwin();
        const before = twin.properties.reported.$version;
        await update(twin, { firmware: '1.2.3', nested: { a: 1, b: 'x' } });
        await update(twin, { nested: { b: null } });  // null deletes a member
        await assert.rejects(update(twin, { 'bad.name': 1 }), 'a property name with a dot is refused');

        await client.close();
        await client.open();
        twin = await client.getTwin();
        assert.equal(twin.properties.reported.firmware, '1.2.3');
        assert.deepEqual({ ...twin.properties.reported.nested }, { a: 1 });
        assert.equal(twin.properties.reported.$version, before + 2, 'two accepted patches, two versions');
      } finally {
        await client.close();
      }
    });

    test('the desired-properties subscription is answered with success', TIMEOUT, async () => {
      const client = Client.fromConnectionString(gateway.connectionString('thermostat'), Transport);
      client.setRetryPolicy(noRetry);
      await client.setOptions({ ca: gateway.ca });
      await client.open();
      try {
        const twin = await client.getTwin();
        // What the SDK does when a 'properties.desired' listener is added: a PUT on
        // /notifications/twin/properties/desired, whose response it waits for.
        await new Promise((resolve, reject) =>
          twin.enableTwinDesiredPropertiesUpdates((err) => (err ? reject(err) : resolve())));
        assert.equal(typeof twin.properties.desired.$version, 'number');
      } finally {
        await client.close();
      }
    });

    test('a module has its own twin', TIMEOUT, async () => {
      const module = ModuleClient.fromConnectionString(gateway.connectionString('gw/filter'), Transport);
      module.setRetryPolicy(noRetry);
      await module.setOptions({ ca: gateway.ca });
      await module.open();
      try {
        const twin = await module.getTwin();
        await update(twin, { role: 'filter' });
        const again = await module.getTwin();
        assert.equal(again.properties.reported.role, 'filter');
        assert.equal(again.properties.reported.firmware, undefined, 'not the device twin');
      } finally {
        await module.close();
      }
    });
  });
}
