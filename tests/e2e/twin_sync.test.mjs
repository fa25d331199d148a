// Issue 8 (twins between the devices and IoT Hub) end to end, with real Azure IoT SDK devices
// (Mqtt and Amqp transports) -> edgehubd -> a stand-in for IoT Hub:
// - AMQP upstream, the IoT Hub stand-in (lib/hub_standin.mjs): reported properties sent while the
//   hub is away survive a kill -9 of edgehubd and reach the hub's twin once it is back; a desired
//   notification that arrives after a lost one (a $version gap) reaches the device as the
//   difference to IoT Hub's twin.
// - MQTT upstream, mosquitto with a twin responder standing in for IoT Hub's twin service
//   (lib/hub_standin/mqtt_twins.mjs): a twin GET answers IoT Hub's twin, reported properties
//   reach it.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import deviceSdk from 'azure-iot-device';
import amqpSdk from 'azure-iot-device-amqp';
import mqttSdk from 'azure-iot-device-mqtt';

import { metricValue } from './lib/arrival.mjs';
import { freePorts, startGateway, waitFor, EDGE_DEVICE, HUB_HOST } from './lib/gateway.mjs';
import { HubStandin } from './lib/hub_standin.mjs';
import { MosquittoHub, TwinResponder } from './lib/hub_standin/mqtt_twins.mjs';
import { hubCertificateFrom, provisioning } from './lib/upstream_setup.mjs';

const { Client } = deviceSdk;
const GW_KEY = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
const EDGEHUB_KEY = Buffer.from('fedcba9876543210fedcba9876543210').toString('base64');
const TIMEOUT = { timeout: 60000 };

async function openDevice(gateway, id, transport) {
  const client = Client.fromConnectionString(gateway.connectionString(id), transport);
  await client.setOptions({ ca: gateway.ca });
  await client.open();
  return client;
}

function report(twin, patch) {
  return new Promise((resolve, reject) => twin.properties.reported.update(patch, (e) => (e ? reject(e) : resolve())));
}

describe('twins over the AMQP upstream to the IoT Hub stand-in', () => {
  const DEVICES = ['sensor-1', 'sensor-2', 'sensor-3'];
  let gateway; let hub; let ports;
  before(async () => {
    const [amqpsPort, httpsPort] = await freePorts(2);
    ports = { amqpsPort, wssPort: httpsPort, httpsPort };
    gateway = await startGateway({
      devices: DEVICES,
      preamble: provisioning({ port: amqpsPort, deviceKey: GW_KEY, edgehubKey: EDGEHUB_KEY }),
      extraGateway: 'upstream_protocol = "amqp"',
    });
    const { tlsKey, tlsCert } = hubCertificateFrom(gateway);
    const identities = { [EDGE_DEVICE]: { primaryKey: GW_KEY, edge: true },
                         [`${EDGE_DEVICE}/$edgeHub`]: { primaryKey: EDGEHUB_KEY } };
    for (const id of DEVICES) identities[id] = { primaryKey: GW_KEY, parent: EDGE_DEVICE };
    hub = new HubStandin({ hubName: HUB_HOST, tlsKey, tlsCert, identities });
    await hub.start(ports);
  });
  after(async () => {
    await hub?.stop();
    if (gateway) assert.equal(await gateway.stop(), 0, gateway.log());
  });

  test('a desired notification after a lost one reaches the device as the difference', TIMEOUT, async () => {
    await hub.updateDesired('sensor-3', { keep: 1, drop: { a: 1, b: 2 }, gone: true });
    const device = await openDevice(gateway, 'sensor-3', mqttSdk.Mqtt);
    try {
      const twin = await device.getTwin();
      assert.equal(twin.properties.desired.keep, 1);
      const base = twin.properties.desired.$version;
      const patches = [];
      twin.on('properties.desired', (patch) => patches.push(structuredClone(patch)));
      // Subscribed upstream once a notification reaches the device (the initial event is the twin).
      let first;
      await waitFor(() => (first = hub.updateDesired('sensor-3', { step: 1 })).notified > 0,
                    'the gateway to subscribe to desired properties upstream', 20000);
      await waitFor(() => patches.some((p) => p.$version === first.version), 'the in-sequence patch');
      assert.deepEqual(patches.find((p) => p.$version === first.version), { step: 1, $version: first.version });
      assert.ok(first.version > base);
      // The next change never reaches the gateway; the one after it shows the gap.
      hub.updateDesired('sensor-3', { gone: null, drop: { b: null }, added: 'x' }, { notify: false });
      const last = hub.updateDesired('sensor-3', { keep: 2 });
      assert.equal(last.notified, 1);
      await waitFor(() => patches.some((p) => p.$version === last.version), 'the patch after the gap');
      const diff = patches.find((p) => p.$version === last.version);
      assert.deepEqual(diff, { keep: 2, drop: { b: null }, gone: null, added: 'x', $version: first.version + 2 });
      const { $version, ...desired } = twin.properties.desired;
      const { $version: hubVersion, ...atHub } = hub.twin('sensor-3').desired;
      assert.deepEqual(desired, atHub, 'the device\'s twin equals IoT Hub\'s after the difference');
      assert.equal($version, hubVersion);
      const metrics = await gateway.metrics();
      assert.ok(metricValue(metrics, 'edgehubd_twin_desired_resync_total', { cause: 'version_gap', result: 'changed' }) >= 1,
                   metrics);
    } finally {
      await device.close();
    }
  });

  test('reported properties sent while the hub is away survive kill -9 and reach it', TIMEOUT, async () => {
    const devices = { 'sensor-1': await openDevice(gateway, 'sensor-1', mqttSdk.Mqtt),
                      'sensor-2': await openDevice(gateway, 'sensor-2', amqpSdk.Amqp) };
    try {
      const twins = {};
      for (const [id, device] of Object.entries(devices)) twins[id] = await device.getTwin();
      await hub.stop();
      for (const [id, twin] of Object.entries(twins)) {
        await report(twin, { firmware: `2.0 for ${id}`, net: { ssid: 'site', rssi: -40 } });
        await report(twin, { net: { rssi: -55 }, offline: true });
      }
    } finally {
      for (const device of Object.values(devices)) await device.close();
    }
    for (const id of Object.keys(devices)) {
      assert.equal(hub.twin(id).reported.firmware, undefined, 'nothing reached the stopped hub');
    }
    await gateway.restart({ signal: 'SIGKILL' });
    await hub.start(ports);
    for (const id of Object.keys(devices)) {
      await waitFor(() => hub.twin(id).reported.offline === true, `${id}'s reported properties at the hub`, 40000);
      const { $version, ...reported } = hub.twin(id).reported;
      assert.deepEqual(reported, { firmware: `2.0 for ${id}`, net: { ssid: 'site', rssi: -55 }, offline: true });
    }
    await waitFor(async () => metricValue(await gateway.metrics(), 'edgehubd_twin_reported_pending') === 0,
                  'no pending patch left');
    const metrics = await gateway.metrics();
    assert.ok(metricValue(metrics, 'edgehubd_twin_reported_sync_total', { result: 'synced' }) >= 2, metrics);
  });
});

describe('twins over the MQTT upstream (mosquitto with a twin responder standing in for IoT Hub)', () => {
  let gateway; let broker; let responder;
  before(async () => {
    const [tlsPort, plainPort] = await freePorts(2);
    gateway = await startGateway({
      devices: ['sensor-1'],
      preamble: provisioning({ port: tlsPort, deviceKey: GW_KEY, edgehubKey: EDGEHUB_KEY }),
      extraGateway: 'upstream_protocol = "mqtt"',
    });
    const pki = path.join(gateway.dir, 'pki');
    broker = new MosquittoHub({ dir: path.join(gateway.dir, 'broker'), tlsPort, plainPort,
                                rootCert: path.join(pki, 'certs/azure-iot-test-only.root.ca.cert.pem'),
                                rootKey: path.join(pki, 'private/azure-iot-test-only.root.ca.key.pem') });
    await broker.start();
    responder = new TwinResponder(plainPort);
    await responder.start();
  });
  after(async () => {
    responder?.stop();
    await broker?.stop();
    if (gateway) assert.equal(await gateway.stop(), 0, gateway.log());
  });

  for (const [label, transport] of [['Mqtt', mqttSdk.Mqtt], ['Amqp', amqpSdk.Amqp]]) {
    test(`a ${label} device's twin GET answers IoT Hub's twin and its reported properties reach it`, TIMEOUT, async () => {
      responder.updateDesired({ [`only${label}AtTheHub`]: 'yes' });
      const device = await openDevice(gateway, 'sensor-1', transport);
      try {
        const twin = await device.getTwin();
        assert.equal(twin.properties.desired[`only${label}AtTheHub`], 'yes', JSON.stringify(twin.properties));
        assert.ok(responder.requests.some((r) => r.operation === 'GET' && r.status === 200));
        await report(twin, { [`via${label}`]: { ok: true } });
        await waitFor(() => responder.twin().reported[`via${label}`]?.ok === true,
                      'the reported properties at the hub (sync every 5 s)', 20000);
      } finally {
        await device.close();
      }
    });
  }
});
