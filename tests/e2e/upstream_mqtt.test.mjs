// Issue 8 (MQTT upstream) end to end: the real Azure IoT device SDK (MQTT) -> edgehubd ->
// mosquitto from Debian standing in for IoT Hub's MQTT endpoint (TLS, certificate from the
// test PKI's root). An MQTT observer on the broker's plain listener sees what IoT Hub would:
// topics, property bags, QoS 1. Also: C2D published into the broker reaches the device; an outage
// under steady load and a kill -9 during the drain lose nothing the devices saw acknowledged;
// desired-properties patches published into the broker reach MQTT and AMQP devices.
// The outage lasts UPSTREAM_OUTAGE_SECONDS (default 60 s, as issue 8 asks);
// tests/e2e/upstream_outage_full.sh runs this file with the full 10 minutes.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import deviceSdk from 'azure-iot-device';
import amqpSdk from 'azure-iot-device-amqp';
import mqttSdk from 'azure-iot-device-mqtt';
import mqtt from 'mqtt';

import { checkArrived, metricValue, queueLength } from './lib/arrival.mjs';
import { freePorts, startGateway, waitFor, HUB_HOST } from './lib/gateway.mjs';
import { MosquittoHub, TwinResponder } from './lib/hub_standin/mqtt_twins.mjs';

const { Client, Message } = deviceSdk;
const KEY = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');

/** What IoT Hub would receive: every PUBLISH on devices/#, with its QoS. */
class Observer {
  constructor(port) {
    this.received = [];
    this.client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'observer', clean: false,
                                                            reconnectPeriod: 200 });
    this.client.on('message', (topic, payload, packet) => {
      this.received.push({ topic, payload: payload.toString(), qos: packet.qos });
    });
  }
  async subscribe() {
    await waitFor(() => this.client.connected, 'the observer to connect');
    await new Promise((resolve, reject) => this.client.subscribe('devices/+/messages/events/#', { qos: 1 },
                                                                 (e) => (e ? reject(e) : resolve())));
  }
  async publish(topic, payload, retain) {
    await new Promise((resolve, reject) => this.client.publish(topic, payload, { qos: 1, retain },
                                                               (e) => (e ? reject(e) : resolve())));
  }
  bodiesOf(device) {
    return this.received.filter((m) => m.topic.startsWith(`devices/${device}/messages/events/`))
      .map((m) => m.payload);
  }
  end() { this.client.end(true); }
}

async function openDevice(gateway, id, transport = mqttSdk.Mqtt) {
  const client = Client.fromConnectionString(gateway.connectionString(id), transport);
  await client.setOptions({ ca: gateway.ca });
  await client.open();
  return client;
}

describe('MQTT upstream to a mosquitto stand-in for IoT Hub', () => {
  let gateway; let broker; let observer;
  let twins;  // answers the gateway's twin GETs, as IoT Hub would
  before(async () => {
    const [tlsPort, plainPort] = await freePorts(2);
    gateway = await startGateway({
      devices: ['sensor-1', 'sensor-2', 'sensor-3', 'sensor-4', 'sensor-5'],
      routes: { toHub: 'FROM /messages/* INTO $upstream' },
      preamble: ['parent_hostname = "localhost"', '[provisioning]', 'source = "manual"',
                 `connection_string = "HostName=${HUB_HOST}:${tlsPort};DeviceId=gw;SharedAccessKey=${KEY}"`,
                 `edgehub_module_key = "${KEY}"`].join('\n'),
      extraGateway: 'upstream_protocol = "mqtt"',
    });
    const pki = path.join(gateway.dir, 'pki');
    // Persistent: the observer's QoS 1 session (and what was queued for it) survives the outage
    // restart, so the observer misses nothing the gateway publishes.
    broker = new MosquittoHub({ dir: path.join(gateway.dir, 'broker'), tlsPort, plainPort, persistent: true,
                                rootCert: path.join(pki, 'certs/azure-iot-test-only.root.ca.cert.pem'),
                                rootKey: path.join(pki, 'private/azure-iot-test-only.root.ca.key.pem') });
    await broker.start();
    observer = new Observer(plainPort);
    await observer.subscribe();
    twins = new TwinResponder(plainPort);
    await twins.start();
  });
  after(async () => {
    twins?.stop();
    observer?.end();
    await broker?.stop();
    if (gateway) assert.equal(await gateway.stop(), 0, gateway.log());
  });

  test('telemetry arrives on the device\'s own topic with its property bag, at QoS 1', async () => {
    const device = await openDevice(gateway, 'sensor-1');
    try {
      const sent = [];
      for (let i = 0; i < 10; i++) {
        const msg = new Message(JSON.stringify({ seq: i }));
        msg.messageId = `t-${i}`;
        msg.contentType = 'application/json';
        msg.contentEncoding = 'utf-8';
        msg.properties.add('alert', 'high temp');
        await device.sendEvent(msg);
        sent.push(JSON.stringify({ seq: i }));
      }
      await waitFor(() => observer.bodiesOf('sensor-1').length >= 10, 'ten messages upstream');
      assert.deepEqual(observer.bodiesOf('sensor-1'), sent);
      const first = observer.received.find((m) => m.payload === sent[0]);
      assert.equal(first.qos, 1);
      assert.equal(first.topic, 'devices/sensor-1/messages/events/' +
                   '%24.mid=t-0&%24.ct=application%2Fjson&%24.ce=utf-8&alert=high%20temp');
      await waitFor(async () => queueLength(await gateway.metrics()) === 0, 'the queue to drain');
    } finally {
      await device.close();
    }
  });

  test('a C2D message published into the hub reaches the device\'s message event', async () => {
    const device = await openDevice(gateway, 'sensor-2');
    try {
      const received = new Promise((resolve) => device.on('message', (msg) => {
        device.complete(msg, () => {});
        resolve(msg);
      }));
      // Retained: the broker hands it over whenever the gateway's upstream subscription is made.
      await observer.publish('devices/sensor-2/messages/devicebound/%24.mid=c2d-1&color=blue%20green',
                             'hello sensor-2', true);
      const msg = await received;
      assert.equal(msg.data.toString(), 'hello sensor-2');
      assert.equal(msg.messageId, 'c2d-1');
      assert.equal(msg.properties.getValue('color'), 'blue green');
      await observer.publish('devices/sensor-2/messages/devicebound/%24.mid=c2d-1', '', true);
    } finally {
      await device.close();
    }
  });

  test('a C2D message published into the hub reaches a device connected over AMQP', async () => {
    const device = await openDevice(gateway, 'sensor-5', amqpSdk.Amqp);
    try {
      const received = new Promise((resolve) => device.on('message', (msg) => {
        device.complete(msg, () => {});
        resolve(msg);
      }));
      await observer.publish('devices/sensor-5/messages/devicebound/%24.mid=c2d-5&color=red',
                             'hello sensor-5', true);
      const msg = await received;
      assert.equal(msg.data.toString(), 'hello sensor-5');
      assert.equal(msg.messageId, 'c2d-5');
      assert.equal(msg.properties.getValue('color'), 'red');
      await observer.publish('devices/sensor-5/messages/devicebound/%24.mid=c2d-5', '', true);
    } finally {
      await device.close();
    }
  });

  // IoT Hub publishes a desired-properties patch on the device's twin topic; the gateway applies
  // it to the device's twin and notifies the device over whichever protocol it connected with.
  for (const [label, id, transport] of [['MQTT', 'sensor-2', mqttSdk.Mqtt], ['AMQP', 'sensor-5', amqpSdk.Amqp]]) {
    test(`a desired-properties patch from the hub reaches a device connected over ${label}`, { timeout: 30000 }, async () => {
      const device = await openDevice(gateway, id, transport);
      const topic = '$iothub/twin/PATCH/properties/desired/?$version=7';
      try {
        const twin = await device.getTwin();
        const patched = new Promise((resolve) => twin.on('properties.desired', (desired) => {
          if (desired.colour === `red for ${id}`) resolve(desired);
        }));
        // Retained: the broker hands it over whenever the gateway's upstream subscription is made.
        await observer.publish(topic, JSON.stringify({ colour: `red for ${id}`, $version: 7 }), true);
        const desired = await patched;
        assert.equal(desired.colour, `red for ${id}`);
        assert.equal(typeof desired.$version, 'number');
        const again = await device.getTwin();
        assert.equal(again.properties.desired.colour, `red for ${id}`);
      } finally {
        await observer.publish(topic, '', true);
        await device.close();
      }
    });
  }

  test('an outage under steady load loses nothing acknowledged; the queue rises and falls', async () => {
    const devices = [await openDevice(gateway, 'sensor-3'), await openDevice(gateway, 'sensor-4')];
    const sent = { 'sensor-3': [], 'sensor-4': [] };
    let stop = false;
    let maxQueue = 0;
    const load = devices.map(async (device, d) => {
      const id = d === 0 ? 'sensor-3' : 'sensor-4';
      for (let i = 0; !stop; i++) {
        const body = `${id}-${i}`;
        await device.sendEvent(new Message(body));  // resolves on the gateway's PUBACK
        sent[id].push(body);
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    try {
      await waitFor(() => observer.bodiesOf('sensor-3').length >= 20, 'traffic before the outage');
      await broker.stop();
      const outageSeconds = Number(process.env.UPSTREAM_OUTAGE_SECONDS || 60);
      const outageEnds = Date.now() + 1000 * outageSeconds;
      while (Date.now() < outageEnds) {
        maxQueue = Math.max(maxQueue, queueLength(await gateway.metrics()));
        await new Promise((r) => setTimeout(r, 200));
      }
      await broker.start();
      await new Promise((r) => setTimeout(r, 1000));
      stop = true;
      await Promise.all(load);
      for (const id of ['sensor-3', 'sensor-4']) {
        const drained = () => {
          const seen = new Set(observer.bodiesOf(id));
          return sent[id].every((b) => seen.has(b));
        };
        // The backlog of a long outage takes longer to drain than the usual 30 s.
        await waitFor(drained, `${id} to drain`, 30000 + 200 * outageSeconds);
        checkArrived(sent[id], observer.bodiesOf(id), id);
      }
      await waitFor(async () => queueLength(await gateway.metrics()) === 0, 'the queue to fall to 0');
      assert.ok(maxQueue > 0, 'messages waited in the store during the outage');
      const metrics = await gateway.metrics();
      assert.ok(metricValue(metrics, 'edgehub_offline_count_total') >= 1, 'the outage was counted');
    } finally {
      stop = true;
      await Promise.allSettled(load);
      await Promise.all(devices.map((d) => d.close()));
    }
  });

  test('kill -9 during the drain, restart: nothing is lost, duplicates are counted', async () => {
    await broker.stop();
    const device = await openDevice(gateway, 'sensor-1');
    const sent = [];
    try {
      for (let i = 0; i < 300; i++) {
        const body = `k-${i}`;
        await device.sendEvent(new Message(body));
        sent.push(body);
      }
    } finally {
      await device.close();
    }
    const before = observer.bodiesOf('sensor-1').length;
    await broker.start();
    await waitFor(() => observer.bodiesOf('sensor-1').length > before, 'the drain to begin', 60000);
    const arrivedBeforeKill = observer.bodiesOf('sensor-1').length - before;
    await gateway.restart({ signal: 'SIGKILL' });
    await waitFor(() => sent.every((b) => observer.bodiesOf('sensor-1').includes(b)), 'the drain after restart');
    console.log(`kill -9 after ${arrivedBeforeKill} of ${sent.length} messages had arrived`);
    checkArrived(sent, observer.bodiesOf('sensor-1').slice(before), 'after kill -9');
  });
});
