// Issue 8 (AMQP upstream) end to end: real Azure IoT SDK devices (MQTT and AMQP) -> edgehubd ->
// the IoT Hub stand-in (lib/hub_standin.mjs) over AMQP and over AMQP in a WebSocket. The
// stand-in judges what IoT Hub would: one connection carrying every identity through CBS
// put-tokens on behalf of the children (the gateway's $edgeHub key), telemetry with its
// properties, C2D settled by the device's own disposition (also for a device that only polls over
// HTTPS), desired-property notifications and
// direct methods relayed to the devices, twin GETs answered from the hub (and from the cache
// while it is away), tokens renewed on the same connection before they
// expire, and an outage that loses nothing acknowledged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import deviceSdk from 'azure-iot-device';
import amqpSdk from 'azure-iot-device-amqp';
import httpSdk from 'azure-iot-device-http';
import mqttSdk from 'azure-iot-device-mqtt';

import { checkArrived, metricValue, queueLength } from './lib/arrival.mjs';
import { freePorts, startGateway, viaGateway, waitFor, EDGE_DEVICE, HUB_HOST } from './lib/gateway.mjs';
import { HubStandin } from './lib/hub_standin.mjs';
import { hubCertificateFrom, provisioning } from './lib/upstream_setup.mjs';

const { Client, Message } = deviceSdk;
const GW_KEY = Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
const EDGEHUB_KEY = Buffer.from('fedcba9876543210fedcba9876543210').toString('base64');
const DEVICES = ['sensor-1', 'sensor-2', 'sensor-3', 'sensor-4'];
const TIMEOUT = { timeout: 30000 };

function bodiesAtHub(hub, id) {
  return hub.telemetry.filter((t) => t.identity === id).map((t) => t.body.toString());
}

async function openDevice(gateway, id, transport) {
  const client = Client.fromConnectionString(gateway.connectionString(id), transport);
  await client.setOptions({ ca: gateway.ca });
  await client.open();
  return client;
}

for (const [label, protocol] of [['AMQP', 'amqp'], ['AMQP over WebSocket', 'amqpws']]) {
  describe(`${label} upstream to the IoT Hub stand-in`, () => {
    let gateway; let hub; let ports;
    before(async () => {
      const [amqpsPort, httpsPort] = await freePorts(2);
      ports = { amqpsPort, wssPort: httpsPort, httpsPort };
      const hubPort = protocol === 'amqp' ? amqpsPort : httpsPort;
      gateway = await startGateway({
        devices: DEVICES,
        routes: { toHub: 'FROM /messages/* INTO $upstream' },
        preamble: provisioning({ port: hubPort, deviceKey: GW_KEY, edgehubKey: EDGEHUB_KEY }),
        // Short-lived upstream tokens, so that a renewal happens within the test (at 8 s).
        extraGateway: `upstream_protocol = "${protocol}"\nupstream_token_lifetime_secs = 10`,
      });
      const identities = { [EDGE_DEVICE]: { primaryKey: GW_KEY, edge: true },
                           [`${EDGE_DEVICE}/$edgeHub`]: { primaryKey: EDGEHUB_KEY } };
      for (const id of DEVICES) identities[id] = { primaryKey: GW_KEY, parent: EDGE_DEVICE };
      hub = new HubStandin({ hubName: HUB_HOST, ...hubCertificateFrom(gateway), identities });
      await hub.start(ports);
    });
    after(async () => {
      await hub?.stop();
      if (gateway) assert.equal(await gateway.stop(), 0, gateway.log());
    });

    test('telemetry of devices on both protocols reaches the hub over one connection', TIMEOUT, async () => {
      const devices = [await openDevice(gateway, 'sensor-1', mqttSdk.Mqtt),
                       await openDevice(gateway, 'sensor-2', amqpSdk.Amqp)];
      try {
        const arrived = Promise.all(['sensor-1', 'sensor-2'].map(
          (id) => hub.next('telemetry', (t) => t.identity === id, 20000)));
        for (const [i, device] of devices.entries()) {
          const message = new Message(JSON.stringify({ temp: 20 + i }));
          message.messageId = `m-${i}`;
          message.contentType = 'application/json';
          message.contentEncoding = 'utf-8';
          message.properties.add('alert', 'high temp');
          await device.sendEvent(message);
        }
        const [first, second] = await arrived;
        assert.equal(first.body.toString(), '{"temp":20}');
        assert.equal(second.body.toString(), '{"temp":21}');
        assert.equal(first.properties.message_id, 'm-0');
        assert.equal(first.properties.content_type, 'application/json');
        assert.equal(first.applicationProperties.alert, 'high temp');
        const carrying = hub.connections().filter((c) => c.identities.includes('sensor-1') ||
                                                         c.identities.includes('sensor-2'));
        assert.equal(carrying.length, 1, JSON.stringify(hub.connections()));
        assert.ok(carrying[0].identities.includes('sensor-1') && carrying[0].identities.includes('sensor-2'));
        assert.equal(carrying[0].hostname, HUB_HOST);
        assert.equal(carrying[0].transport, protocol === 'amqp' ? 'amqps' : 'wss');
        // On behalf of the children: the gateway's $edgeHub token, never the device's own.
        const tokens = hub.putTokens.filter((t) => t.identity === 'sensor-1');
        assert.ok(tokens.length > 0 && tokens.every((t) => t.status === 200), JSON.stringify(tokens));
      } finally {
        await Promise.all(devices.map((d) => d.close()));
      }
    });

    for (const [kind, id, transport] of [['MQTT', 'sensor-3', mqttSdk.Mqtt], ['AMQP', 'sensor-4', amqpSdk.Amqp]]) {
      test(`C2D, a desired-property patch and a direct method reach a device connected over ${kind}`, TIMEOUT, async () => {
        const device = await openDevice(gateway, id, transport);
        try {
          const c2d = new Promise((resolve) => device.on('message', (msg) => {
            device.complete(msg, () => {});
            resolve(msg);
          }));
          device.onDeviceMethod('reboot', (request, response) => {
            response.send(200, { rebooted: request.payload.delay }, () => {});
          });
          const twin = await device.getTwin();
          const patched = new Promise((resolve) => twin.on('properties.desired', (desired) => {
            if (desired.colour === `blue for ${id}`) resolve(desired);
          }));

          const settled = await hub.sendC2D(id, { body: `hello ${id}`, messageId: `c2d-${id}`,
                                                  properties: { colour: 'green' } });
          const msg = await c2d;
          assert.equal(msg.data.toString(), `hello ${id}`);
          assert.equal(msg.messageId, `c2d-${id}`);
          assert.equal(msg.properties.getValue('colour'), 'green');
          assert.equal(settled.outcome, 'accepted');

          // The gateway subscribes upstream once the device's twin and method links are up.
          await waitFor(async () => (await hub.updateDesired(id, { colour: `blue for ${id}` })).notified > 0,
                        'the gateway to subscribe to desired properties upstream', 20000);
          assert.equal((await patched).colour, `blue for ${id}`);

          let answer;
          await waitFor(async () => {
            try {
              answer = await hub.invokeMethod(id, { methodName: 'reboot', payload: { delay: 5 }, timeoutMs: 5000 });
              return true;
            } catch (e) {
              if (e.status !== 404) throw e;
              return false;
            }
          }, 'the gateway to hold the method link upstream', 20000);
          assert.equal(answer.status, 200);
          assert.deepEqual(answer.payload, { rebooted: 5 });
        } finally {
          await device.close();
        }
      });
    }
    test('a device that only polls over HTTPS gets its C2D from the hub, which learns it completed', TIMEOUT, async () => {
      const device = Client.fromConnectionString(viaGateway(gateway.connectionString('sensor-3')), httpSdk.Http);
      await device.setOptions({ ca: gateway.ca, http: { receivePolicy: { interval: 1 } } });
      await device.open();
      try {
        const received = new Promise((resolve) => device.on('message', (msg) => {
          device.complete(msg, () => {});
          resolve(msg);
        }));
        // Held by the hub until the gateway, on the device's first poll, takes its C2D.
        const settled = await hub.sendC2D('sensor-3', { body: 'to a poller', messageId: 'c2d-http',
                                                        properties: { via: 'https' } });
        const msg = await received;
        assert.equal(msg.data.toString(), 'to a poller');
        assert.equal(msg.messageId, 'c2d-http');
        // The Http transport names application properties by their header: iothub-app-{name}.
        assert.equal(msg.properties.getValue('iothub-app-via'), 'https');
        assert.equal(settled.outcome, 'accepted');
      } finally {
        await device.close();
      }
    });

    test('a device\'s reject reaches the hub as rejected (AMQP and HTTPS devices), an AMQP device\'s abandon as released', TIMEOUT, async () => {
      for (const [id, transport] of [['sensor-4', amqpSdk.Amqp], ['sensor-3', httpSdk.Http]]) {
        const device = transport === httpSdk.Http
          ? Client.fromConnectionString(viaGateway(gateway.connectionString(id)), transport)
          : await openDevice(gateway, id, transport);
        if (transport === httpSdk.Http) {
          await device.setOptions({ ca: gateway.ca, http: { receivePolicy: { interval: 1 } } });
          await device.open();
        }
        try {
          device.on('message', (msg) => {
            const settle = msg.data.toString() === 'reject me' ? device.reject : device.abandon;
            settle.call(device, msg, () => {});
          });
          const rejected = await hub.sendC2D(id, { body: 'reject me', messageId: `reject-${id}` });
          assert.equal(rejected.outcome, 'rejected', id);
          // An HTTPS device's abandon puts the message back in the gateway's own queue for its
          // next poll (docs/http.md); only an AMQP device's abandon goes back to the hub at once.
          if (transport === httpSdk.Http) continue;
          const abandoned = await hub.sendC2D(id, { body: 'abandon me', messageId: `abandon-${id}` });
          assert.equal(abandoned.outcome, 'released', id);
        } finally {
          await device.close();
        }
      }
      const metrics = await gateway.metrics();
      assert.equal(metricValue(metrics, 'edgehubd_upstream_cloud_to_device_total', { result: 'rejected' }), 2, metrics);
    });

    test('a twin GET answers the hub\'s twin, and the cached one while the hub is away', TIMEOUT, async () => {
      await hub.updateDesired('sensor-4', { fromHub: 'yes' });
      const device = await openDevice(gateway, 'sensor-4', amqpSdk.Amqp);
      try {
        const twin = await device.getTwin();
        assert.equal(twin.properties.desired.fromHub, 'yes');
        await hub.stop();
        try {
          const cached = await device.getTwin();
          assert.equal(cached.properties.desired.fromHub, 'yes', 'never an empty twin while one is cached');
        } finally {
          await hub.start(ports);
        }
      } finally {
        await device.close();
      }
    });

    test('tokens are renewed on the same connection before they expire', TIMEOUT, async () => {
      const device = await openDevice(gateway, 'sensor-1', amqpSdk.Amqp);
      const expired = [];
      const onExpired = (e) => expired.push(e.identity);
      hub.on('tokenExpired', onExpired);
      try {
        device.on('message', () => {});  // a C2D subscription keeps sensor-1's links up
        // A renewal is a second accepted put-token for sensor-1 on the connection open now.
        const renewed = () => {
          const open = new Set(hub.connections().map((c) => c.id));
          const puts = hub.putTokens.filter((t) => t.identity === 'sensor-1' && t.status === 200 &&
                                                   open.has(t.connectionId));
          return puts.length >= 2;
        };
        await waitFor(renewed, 'a second put-token for sensor-1 on the same connection', 20000);
        const arrived = hub.next('telemetry', (t) => t.identity === 'sensor-1' && t.body.toString() === 'after renewal');
        await device.sendEvent(new Message('after renewal'));
        await arrived;
        assert.deepEqual(expired.filter((id) => id === 'sensor-1'), []);
      } finally {
        hub.off('tokenExpired', onExpired);
        await device.close();
      }
    });

    // Issue 8's 60 s outage over AMQP (UPSTREAM_OUTAGE_SECONDS); over AMQP-WS a short one.
    const outageMs = protocol === 'amqp' ? 1000 * Number(process.env.UPSTREAM_OUTAGE_SECONDS || 60) : 3000;
    test('an outage of the hub under steady load loses nothing acknowledged', { timeout: 40000 + outageMs }, async () => {
      const ids = ['sensor-1', 'sensor-2'];
      const devices = [await openDevice(gateway, ids[0], mqttSdk.Mqtt), await openDevice(gateway, ids[1], amqpSdk.Amqp)];
      const sent = { [ids[0]]: [], [ids[1]]: [] };
      let stop = false;
      let maxQueue = 0;
      const load = devices.map(async (device, d) => {
        for (let i = 0; !stop; i++) {
          const body = `${ids[d]}-outage-${i}`;
          await device.sendEvent(new Message(body));  // resolves once the gateway committed it
          sent[ids[d]].push(body);
          await new Promise((r) => setTimeout(r, 20));
        }
      });
      try {
        await waitFor(() => bodiesAtHub(hub, ids[0]).filter((b) => b.includes('outage')).length >= 10,
                      'traffic before the outage');
        await hub.stop();
        const outageEnds = Date.now() + outageMs;
        while (Date.now() < outageEnds) {
          maxQueue = Math.max(maxQueue, queueLength(await gateway.metrics()));
          await new Promise((r) => setTimeout(r, 200));
        }
        await hub.start(ports);
        await new Promise((r) => setTimeout(r, 1000));
        stop = true;
        await Promise.all(load);
        for (const id of ids) {
          await waitFor(() => {
            const seen = new Set(bodiesAtHub(hub, id));
            return sent[id].every((b) => seen.has(b));
          }, `${id} to drain`, 20000);
          checkArrived(sent[id], bodiesAtHub(hub, id).filter((b) => b.includes('outage')), `${label} ${id}`);
        }
        assert.ok(maxQueue > 0, 'messages waited in the store during the outage');
        await waitFor(async () => queueLength(await gateway.metrics()) === 0, 'the queue to fall to 0');
      } finally {
        stop = true;
        await Promise.all(devices.map((d) => d.close()));
      }
    });
  });
}
