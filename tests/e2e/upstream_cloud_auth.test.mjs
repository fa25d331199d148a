// Issue 8: authentication_mode = "cloud". The gateway does not act on behalf of its devices: each
// one goes upstream with the SAS token it presented downstream, which the IoT Hub stand-in
// (lib/hub_standin.mjs) checks against that device's own key, as IoT Hub would.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import deviceSdk from 'azure-iot-device';
import amqpSdk from 'azure-iot-device-amqp';
import mqttSdk from 'azure-iot-device-mqtt';

import { freePorts, startGateway, EDGE_DEVICE, HUB_HOST } from './lib/gateway.mjs';
import { HubStandin } from './lib/hub_standin.mjs';
import { hubCertificateFrom, provisioning } from './lib/upstream_setup.mjs';

const { Client, Message } = deviceSdk;
const GW_KEY = Buffer.from('cloud mode gateway key, 32 bytes').toString('base64');
const TIMEOUT = { timeout: 30000 };

const keyOf = (connectionString) => /SharedAccessKey=([^;]+)/.exec(connectionString)[1];

describe('authentication_mode = "cloud" over the AMQP upstream', () => {
  let gateway; let hub;
  before(async () => {
    const [amqpsPort] = await freePorts(1);
    gateway = await startGateway({
      devices: ['sensor-1', 'sensor-2'],
      routes: { toHub: 'FROM /messages/* INTO $upstream' },
      // No edgehub_module_key: in cloud mode the gateway never signs for its devices.
      preamble: provisioning({ port: amqpsPort, deviceKey: GW_KEY }),
      extraGateway: 'upstream_protocol = "amqp"\nauthentication_mode = "cloud"',
    });
    // The hub knows the devices with the same keys the gateway's identities file holds.
    hub = new HubStandin({ hubName: HUB_HOST, ...hubCertificateFrom(gateway), identities: {
      [EDGE_DEVICE]: { primaryKey: GW_KEY, edge: true },
      'sensor-1': { primaryKey: keyOf(gateway.connectionString('sensor-1')) },
      'sensor-2': { primaryKey: keyOf(gateway.connectionString('sensor-2')) } } });
    await hub.start({ amqpsPort });
  });
  after(async () => {
    await hub?.stop();
    if (gateway) assert.equal(await gateway.stop(), 0, gateway.log());
  });

  test('each device goes upstream with its own token, over MQTT and AMQP downstream', TIMEOUT, async () => {
    const devices = [];
    try {
      for (const [id, transport] of [['sensor-1', mqttSdk.Mqtt], ['sensor-2', amqpSdk.Amqp]]) {
        const device = Client.fromConnectionString(gateway.connectionString(id), transport);
        await device.setOptions({ ca: gateway.ca });
        await device.open();
        devices.push(device);
        const arrived = hub.next('telemetry', (t) => t.identity === id, 20000);
        await device.sendEvent(new Message(`own token of ${id}`));
        assert.equal((await arrived).body.toString(), `own token of ${id}`);
        const puts = hub.putTokens.filter((t) => t.identity === id);
        assert.ok(puts.length > 0 && puts.every((t) => t.status === 200 && t.onBehalfOf === null),
                  JSON.stringify(puts));
      }
    } finally {
      await Promise.all(devices.map((d) => d.close()));
    }
  });
});
