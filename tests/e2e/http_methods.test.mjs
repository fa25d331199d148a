// Issue 9 end to end: a module calls direct methods through the gateway's HTTPS API with the
// real SDK (ModuleClient.invokeMethod: POST /twins/{d}/methods, no api-version,
// x-ms-edge-moduleId) on devices connected over Mqtt, MqttWs, Amqp and AmqpWs, offline (no
// upstream exists): the device's answer comes back; a device that connects later is reached
// within the connect timeout; a device that never answers yields IoT Hub's 504; a device caller
// is refused.
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';

import commonSdk from 'azure-iot-common';
import deviceSdk from 'azure-iot-device';
import amqpSdk from 'azure-iot-device-amqp';
import mqttSdk from 'azure-iot-device-mqtt';

import { EDGE_DEVICE, GATEWAY_HOST, startGateway } from './lib/gateway.mjs';

const { Client, ModuleClient } = deviceSdk;
const { SharedAccessSignature } = commonSdk;

async function openDevice(gateway, id, Transport, methods = {}) {
  const client = Client.fromConnectionString(gateway.connectionString(id), Transport);
  await client.setOptions({ ca: gateway.ca });
  await client.open();
  for (const [name, handler] of Object.entries(methods)) client.onDeviceMethod(name, handler);
  return client;
}

async function openCaller(gateway) {
  const module = ModuleClient.fromConnectionString(gateway.connectionString(`${EDGE_DEVICE}/caller`), mqttSdk.Mqtt);
  await module.setOptions({ ca: gateway.ca });
  await module.open();
  return module;
}

describe('direct methods from a module over HTTPS', () => {
  let gateway;
  let caller;
  before(async () => {
    gateway = await startGateway({ devices: ['plain', 'ws', 'amqp', 'amqpws', 'late', 'mute'], modules: ['caller'] });
    caller = await openCaller(gateway);
  });
  after(async () => {
    await caller.close();
    assert.equal(await gateway.stop(), 0, gateway.log());
  });

  for (const [name, Transport, id] of [['Mqtt', mqttSdk.Mqtt, 'plain'], ['MqttWs', mqttSdk.MqttWs, 'ws'],
                                       ['Amqp', amqpSdk.Amqp, 'amqp'], ['AmqpWs', amqpSdk.AmqpWs, 'amqpws']]) {
    test(`a device on ${name} answers`, async () => {
      const device = await openDevice(gateway, id, Transport, {
        echo: (req, res) => res.send(201, { got: req.payload, method: req.methodName }),
      });
      try {
        const result = await caller.invokeMethod(id, {
          methodName: 'echo', payload: { n: 42, text: 'hi' }, responseTimeoutInSeconds: 10, connectTimeoutInSeconds: 5,
        });
        assert.equal(result.status, 201);
        assert.deepEqual(result.payload, { got: { n: 42, text: 'hi' }, method: 'echo' });
      } finally {
        await device.close();
      }
    });
  }

  test('a device that connects 5 s later is reached within the connect timeout', async () => {
    const pending = caller.invokeMethod('late', {
      methodName: 'hello', payload: null, responseTimeoutInSeconds: 10, connectTimeoutInSeconds: 20,
    });
    await new Promise((r) => setTimeout(r, 5000));
    const device = await openDevice(gateway, 'late', mqttSdk.Mqtt, {
      hello: (req, res) => res.send(200, 'late but here'),
    });
    try {
      const result = await pending;
      assert.equal(result.status, 200);
      assert.equal(result.payload, 'late but here');
    } finally {
      await device.close();
    }
  });

  test('not connected without a connect timeout: 404; never answering: 504', async () => {
    await assert.rejects(caller.invokeMethod('late', { methodName: 'x', payload: null, responseTimeoutInSeconds: 5 }),
                         (err) => err.response?.statusCode === 404 || /404|DeviceNotOnline|not found/i.test(String(err)));
    const device = await openDevice(gateway, 'mute', mqttSdk.Mqtt, { silent: () => {} });
    try {
      await assert.rejects(
        caller.invokeMethod('mute', { methodName: 'silent', payload: null, responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 5 }),
        (err) => err.response?.statusCode === 504 || /504|GatewayTimeout|timeout/i.test(String(err)));
    } finally {
      await device.close();
    }
    const metrics = await gateway.metrics();
    assert.match(metrics, /edgehub_direct_methods_total\{[^}]*from="gw\/caller"[^}]*\} [1-9]/);
    assert.match(metrics, /edgehub_direct_method_duration_seconds_count\{[^}]*\} [1-9]/);
    assert.match(metrics, /edgehubd_http_requests_total\{[^}]*route="invoke_method"[^}]*status="504"[^}]*\} 1/);
  });

  test('a device is not allowed to call methods', async () => {
    // A device's own connection string and token, with the module header naming the device.
    const cs = Object.fromEntries(gateway.connectionString('plain').split(';').map((kv) => kv.split(/=(.*)/s).slice(0, 2)));
    const token = SharedAccessSignature.create(`${cs.HostName}/devices/plain`, undefined, cs.SharedAccessKey,
                                               Math.floor(Date.now() / 1000) + 3600).toString();
    const status = await new Promise((resolve, reject) => {
      const req = https.request({
        host: '127.0.0.1', port: gateway.ports.https, servername: GATEWAY_HOST, ca: gateway.ca,
        method: 'POST', path: '/twins/ws/methods',
        headers: { Authorization: token, 'x-ms-edge-moduleId': 'plain', 'Content-Type': 'application/json' },
      }, (res) => { res.resume(); resolve(res.statusCode); });
      req.on('error', reject);
      req.end(JSON.stringify({ methodName: 'echo', payload: {}, responseTimeoutInSeconds: 5 }));
    });
    assert.equal(status, 403);
  });
});
