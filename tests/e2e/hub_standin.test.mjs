// Issue 8's IoT Hub stand-in (lib/hub_standin.mjs), judged by real clients: the Azure IoT device
// SDK (Amqp and AmqpWs transports) connects straight to it as it would to IoT Hub and must see
// a hub: telemetry, C2D settlement, twin GET/PATCH/desired notifications, direct methods, a
// refused key. rhea plays edgehubd's upstream for what only a gateway does: on-behalf-of
// put-tokens with the $edgeHub key on one multiplexed connection, SASL PLAIN, token expiry.
// HTTPS requests exercise the device-scope API. An outage (stop, start) is survived.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import common from 'azure-iot-common';
import deviceSdk from 'azure-iot-device';
import amqpSdk from 'azure-iot-device-amqp';
import rhea from 'rhea';
import WebSocket from 'ws';

import { freePorts, nextEvent, HUB_HOST } from './lib/gateway.mjs';
import { HubStandin, makeToken, resourceOf, signServerCertificate } from './lib/hub_standin.mjs';

const { Client, Message, ModuleClient } = deviceSdk;
const TIMEOUT = { timeout: 30000 };
const key = (seed) => crypto.createHash('sha256').update(seed).digest('base64');
const IDENTITIES = {
  gw: { primaryKey: key('gw'), edge: true },
  'gw/$edgeHub': { primaryKey: key('gw/$edgeHub') },
  dev1: { primaryKey: key('dev1'), parent: 'gw' },
  dev2: { primaryKey: key('dev2'), secondaryKey: key('dev2-secondary'), parent: 'gw' },
  'dev1/mod1': { primaryKey: key('dev1/mod1') },
  outsider: { primaryKey: key('outsider') },
  // A second edge device whose scope holds exactly three identities, for paging.
  edge2: { primaryKey: key('edge2'), edge: true },
  'edge2/$edgeHub': { primaryKey: key('edge2/$edgeHub') },
  leaf2: { primaryKey: key('leaf2'), parent: 'edge2' },
};

let dir;
let ca;
let hub;
let ports;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eh-hub-standin-'));
  execFileSync(process.env.EDGEHUBCTL_BINARY, ['certs', 'demo', '--dir', path.join(dir, 'pki'), '--edge-name', 'gw']);
  const rootCert = path.join(dir, 'pki/certs/azure-iot-test-only.root.ca.cert.pem');
  ca = fs.readFileSync(rootCert, 'utf8');
  const { key: tlsKey, cert: tlsCert } = signServerCertificate({
    dir: path.join(dir, 'hub'), rootCert, rootKey: path.join(dir, 'pki/private/azure-iot-test-only.root.ca.key.pem'),
    names: [HUB_HOST, 'localhost'] });
  const [amqpsPort, httpsPort] = await freePorts(2);
  ports = { amqpsPort, wssPort: httpsPort, httpsPort };
  hub = new HubStandin({ hubName: HUB_HOST, tlsKey, tlsCert, identities: IDENTITIES });
  await hub.start(ports);
});

after(async () => {
  await hub.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function connectionString(id, primaryKey = IDENTITIES[id].primaryKey) {
  return `HostName=${HUB_HOST};DeviceId=${id};SharedAccessKey=${primaryKey}`;
}

async function openDevice(id, Transport, primaryKey) {
  const client = Client.fromConnectionString(connectionString(id, primaryKey), Transport);
  client.setRetryPolicy(new common.NoRetry());
  await client.setOptions({ ca });
  await client.open();
  return client;
}

function updateReported(twin, patch) {
  return new Promise((resolve, reject) => twin.properties.reported.update(patch, (e) => (e ? reject(e) : resolve())));
}

for (const [name, Transport, transport] of [['Amqp', amqpSdk.Amqp, 'amqps'], ['AmqpWs', amqpSdk.AmqpWs, 'wss']]) {
  describe(`the SDK's ${name} transport against the stand-in`, () => {
    let client;
    before(async () => { client = await openDevice('dev1', Transport); });
    after(async () => client.close());

    test('the connection is authenticated by CBS for dev1 over the right transport', () => {
      const mine = hub.connections().filter((c) => c.identities.includes('dev1') && c.transport === transport);
      assert.equal(mine.length, 1, JSON.stringify(hub.connections()));
      assert.equal(mine[0].saslMechanism, 'none', 'the Node SDK sends no SASL layer');
      assert.equal(mine[0].hostname, HUB_HOST);
      const token = hub.putTokens.findLast((t) => t.connectionId === mine[0].id);
      assert.deepEqual([token.status, token.type, token.onBehalfOf], [200, 'servicebus.windows.net:sastoken', null]);
    });

    test('telemetry is recorded with its body and properties, and accepted', TIMEOUT, async () => {
      const message = new Message(JSON.stringify({ temperature: 21.5, transport }));
      message.messageId = `m-${transport}`;
      message.contentType = 'application/json';
      message.contentEncoding = 'utf-8';
      message.properties.add('alert', 'high');
      const arrived = hub.next('telemetry', (t) => t.properties.message_id === `m-${transport}`);
      await client.sendEvent(message);  // resolves on the hub's accepted disposition
      const received = await arrived;
      assert.equal(received.identity, 'dev1');
      assert.deepEqual(JSON.parse(received.body.toString()), { temperature: 21.5, transport });
      assert.equal(received.properties.content_type, 'application/json');
      assert.equal(received.properties.content_encoding, 'utf-8');
      assert.equal(received.applicationProperties.alert, 'high');
    });

    test('a rejected telemetry message fails the SDK send', TIMEOUT, async () => {
      hub.rejectNext('dev1', 1, 'amqp:resource-limit-exceeded');
      await assert.rejects(client.sendEvent(new Message('refused')));
      assert.equal(hub.rejected.at(-1).identity, 'dev1');
      await client.sendEvent(new Message('accepted again'));
    });

    test('C2D reaches the device; complete is accepted, reject is rejected', TIMEOUT, async () => {
      const messages = [];
      client.on('message', (message) => messages.push(message));
      const first = hub.sendC2D('dev1', { body: 'open the valve', messageId: `c2d-1-${transport}`,
                                          properties: { valve: '3' } });
      await waitUntil(() => messages.length === 1);
      assert.equal(messages[0].getData().toString(), 'open the valve');
      assert.equal(messages[0].messageId, `c2d-1-${transport}`);
      assert.equal(messages[0].properties.getValue('valve'), '3');
      await client.complete(messages[0]);
      assert.equal((await first).outcome, 'accepted');

      const second = hub.sendC2D('dev1', { body: 'not for me' });
      await waitUntil(() => messages.length === 2);
      await client.reject(messages[1]);
      assert.equal((await second).outcome, 'rejected');

      const third = hub.sendC2D('dev1', { body: 'later, please' });
      await waitUntil(() => messages.length === 3);
      await client.abandon(messages[2]);
      assert.equal((await third).outcome, 'released', 'the SDK abandons with released');
      client.removeAllListeners('message');
    });

    test('while the hub holds dispositions, the SDK send waits for them', TIMEOUT, async () => {
      hub.holdDispositions(true);
      let settled = false;
      const arrived = hub.next('telemetry', (t) => t.body.toString() === `held ${transport}`);
      const sent = client.sendEvent(new Message(`held ${transport}`)).finally(() => { settled = true; });
      await arrived;
      // A twin GET answered on the same connection: had the hub settled the message, that
      // disposition would have reached the SDK before this answer.
      await client.getTwin();
      assert.equal(settled, false, 'only the hub\'s disposition completes a send');
      hub.holdDispositions(false);
      await sent;
    });

    test('twin: GET, reported PATCH, desired notification', TIMEOUT, async () => {
      const twin = await client.getTwin();
      const reportedBefore = twin.properties.reported.$version;
      assert.equal(reportedBefore, hub.twin('dev1').reported.$version);
      await updateReported(twin, { firmware: `1.0-${transport}`, obsolete: null });
      assert.equal(hub.twin('dev1').reported.firmware, `1.0-${transport}`);
      assert.equal(hub.twin('dev1').reported.$version, reportedBefore + 1);

      const subscribed = hub.next('twinRequest', (r) => r.identity === 'dev1' && r.operation === 'PUT');
      const fanSpeeds = [];
      twin.on('properties.desired', (desired) => fanSpeeds.push(desired.fanSpeed));
      await subscribed;
      const desiredBefore = twin.properties.desired.$version;
      const { version, notified } = hub.updateDesired('dev1', { fanSpeed: transport.length });
      assert.deepEqual([version, notified], [desiredBefore + 1, 1]);
      await waitUntil(() => fanSpeeds.includes(transport.length));
      assert.equal(twin.properties.desired.$version, version);
      twin.removeAllListeners('properties.desired');
    });

    test('a method invoked on the hub is answered by the SDK handler', TIMEOUT, async () => {
      const attached = hub.next('link', (l) => l.identity === 'dev1' && l.feature === 'methods' && l.clientRole === 'receiver');
      client.onDeviceMethod(`reboot${name}`, (request, response) => {
        response.send(200, { delayed: request.payload.delay }, () => {});
      });
      await attached;
      const answer = await hub.invokeMethod('dev1', { methodName: `reboot${name}`, payload: { delay: 5 } });
      assert.deepEqual(answer, { status: 200, payload: { delayed: 5 } });
    });
  });
}

describe('modules, secondary keys and refusals', () => {
  test('a device presenting a wrong key cannot open', TIMEOUT, async () => {
    await assert.rejects(openDevice('dev2', amqpSdk.Amqp, key('not dev2')), (error) => error.name === 'UnauthorizedError');
    const refusal = hub.putTokens.findLast((t) => t.audience?.includes('dev2'));
    assert.equal(refusal.status, 401);
    assert.match(refusal.description, /not signed with a key of 'dev2'/);
  });

  test('a module has its own telemetry path and twin', TIMEOUT, async () => {
    const module = ModuleClient.fromConnectionString(
      `${connectionString('dev1', IDENTITIES['dev1/mod1'].primaryKey)};ModuleId=mod1`, amqpSdk.Amqp);
    module.setRetryPolicy(new common.NoRetry());
    await module.setOptions({ ca });
    await module.open();
    try {
      const arrived = hub.next('telemetry', (t) => t.identity === 'dev1/mod1');
      await module.sendEvent(new Message('from the module'));
      assert.equal((await arrived).body.toString(), 'from the module');
      const twin = await module.getTwin();
      await updateReported(twin, { role: 'filter' });
      assert.equal(hub.twin('dev1/mod1').reported.role, 'filter');
      assert.equal(hub.twin('dev1').reported.role, undefined, 'not the device twin');
    } finally {
      await module.close();
    }
  });

  test('a device signing with its secondary key opens', TIMEOUT, async () => {
    const client = await openDevice('dev2', amqpSdk.Amqp, IDENTITIES.dev2.secondaryKey);
    await client.close();
  });

  test('a method for a device without a method link is 404, an unanswered one 504', TIMEOUT, async () => {
    await assert.rejects(hub.invokeMethod('dev2', { methodName: 'm' }), (error) => error.status === 404);
    const client = await openDevice('dev2', amqpSdk.Amqp, IDENTITIES.dev2.primaryKey);
    try {
      const attached = hub.next('link', (l) => l.identity === 'dev2' && l.feature === 'methods' && l.clientRole === 'receiver');
      client.onDeviceMethod('silent', () => {});  // never answers
      await attached;
      await assert.rejects(hub.invokeMethod('dev2', { methodName: 'silent', timeoutMs: 200 }), (error) => error.status === 504);
    } finally {
      await client.close();
    }
  });
});

describe('the WebSocket upgrade', () => {
  /** The HTTP status the stand-in answers a WebSocket upgrade to `path` offering `protocols` with. */
  async function upgradeStatus(path, protocols) {
    const socket = new WebSocket(`wss://${HUB_HOST}${path}`, protocols, { ca });  // port 443: redirected
    socket.on('error', () => {});
    const [, response] = await nextEvent((done) => socket.once('unexpected-response', done));
    return response.statusCode;
  }

  test('takes AMQPWSB10 on /$iothub/websocket only', TIMEOUT, async () => {
    assert.equal(await upgradeStatus('/$iothub/websocket', ['mqtt']), 400);
    assert.equal(await upgradeStatus('/other', ['AMQPWSB10']), 404);
  });
});

/** Resolves once `predicate()` holds, polling; rejects after `ms`. */
async function waitUntil(predicate, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for a condition');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A rhea client connection to the stand-in, as edgehubd's upstream makes one. */
async function openRhea(options = {}) {
  const connection = rhea.create_container().connect({
    host: '127.0.0.1', port: ports.amqpsPort, transport: 'tls', ca, servername: HUB_HOST, hostname: HUB_HOST,
    reconnect: false, container_id: `upstream-${crypto.randomUUID()}`, ...options });
  connection.on('connection_error', () => {});
  connection.on('sender_error', () => {});
  connection.on('receiver_error', () => {});
  connection.on('disconnected', () => {});
  await nextEvent((done) => connection.once('connection_open', done));
  return connection;
}

/** What the stand-in reports about a rhea client connection (matched by its OPEN container id). */
function standinView(connection) {
  return hub.connections().find((c) => c.containerId === connection.options.container_id);
}

/** CBS over an open rhea connection: put(name, token, authChain) -> the response's status-code. */
function cbs(connection) {
  const sender = connection.open_sender({ target: { address: '$cbs' } });
  const receiver = connection.open_receiver({ source: { address: '$cbs' } });
  const waiting = new Map();
  receiver.on('message', ({ message }) => waiting.get(message.correlation_id)?.(message.application_properties));
  return {
    async put(name, token, authChain) {
      const id = crypto.randomUUID();
      const answered = new Promise((resolve) => waiting.set(id, resolve));
      sender.send({ message_id: id, to: '$cbs', reply_to: 'cbs', body: token,
                    application_properties: { operation: 'put-token', type: 'azure-devices.net:sastoken', name,
                                              ...(authChain ? { 'auth-chain': authChain } : {}) } });
      return (await answered)['status-code'];
    },
  };
}

const audience = (identity) => encodeURIComponent(resourceOf(HUB_HOST, identity));
const edgeHubToken = (seconds) => makeToken(HUB_HOST, 'gw/$edgeHub', IDENTITIES['gw/$edgeHub'].primaryKey, seconds);

describe('an upstream like edgehubd\'s: on behalf of children, one connection', () => {
  test('the $edgeHub token admits in-scope identities only, all on one connection', TIMEOUT, async () => {
    const connection = await openRhea({ username: 'anonymous' });  // SASL ANONYMOUS, then CBS
    try {
      const put = cbs(connection).put;
      assert.equal(await put(audience('dev1'), edgeHubToken(3600)), 200);
      assert.equal(await put(audience('dev2'), edgeHubToken(3600), 'dev2;gw'), 200);
      assert.equal(await put(audience('gw/$edgeHub'), edgeHubToken(3600)), 200);
      assert.equal(await put(audience('outsider'), edgeHubToken(3600)), 401, 'not in gw\'s scope');
      assert.equal(await put(audience('leaf2'), edgeHubToken(3600)), 401, 'in edge2\'s scope, not gw\'s');
      assert.equal(await put(audience('dev1'), edgeHubToken(3600), 'dev1;edge2'), 401, 'the chain must end at gw');
      assert.equal(await put(audience('dev1'), edgeHubToken(-10)), 401, 'expired');
      const dev2Token = makeToken(HUB_HOST, 'dev2', IDENTITIES.dev2.primaryKey);
      assert.equal(await put(audience('dev1'), dev2Token), 401, 'dev2\'s own token does not name dev1');
      assert.equal(await put(audience('dev1'), 'not a token'), 400);
      assert.equal(await put(audience('dev1'), edgeHubToken(3600)), 200);

      const mine = standinView(connection);
      assert.equal(mine.saslMechanism, 'ANONYMOUS');
      assert.deepEqual(mine.identities.sort(), ['dev1', 'dev2', 'gw/$edgeHub']);
      const dev1Tokens = hub.putTokens.filter((t) => t.connectionId === mine.id && t.identity === 'dev1');
      assert.deepEqual(dev1Tokens.map((t) => [t.status, t.renewal, t.onBehalfOf]), [[200, false, 'gw'], [200, true, 'gw']]);

      // Telemetry of an admitted identity is accepted; a link for a refused one is detached.
      const sender = connection.open_sender({ target: { address: `amqps://${HUB_HOST}/devices/dev2/messages/events` } });
      const arrived = hub.next('telemetry', (t) => t.identity === 'dev2');
      sender.send({ body: rhea.message.data_section(Buffer.from('on behalf of dev2')) });
      await nextEvent((done) => sender.once('accepted', done));
      assert.equal((await arrived).body.toString(), 'on behalf of dev2');
      const refused = connection.open_sender({ target: { address: '/devices/outsider/messages/events' } });
      await nextEvent((done) => refused.once('sender_close', done));
      assert.equal(refused.error.condition, 'amqp:unauthorized-access');
    } finally {
      connection.close();
    }
  });

  test('an identity whose token expires loses its links; the connection stays', TIMEOUT, async () => {
    // SASL MSSBCBS as uAMQP sends it: an empty initial response, then CBS.
    const mssbcbs = { start: (callback) => callback(undefined, Buffer.alloc(0)) };
    const connection = await openRhea({ sasl_mechanisms: { MSSBCBS: () => mssbcbs } });
    try {
      assert.equal(standinView(connection).saslMechanism, 'MSSBCBS');
      const put = cbs(connection).put;
      assert.equal(await put(audience('dev1'), edgeHubToken(3600)), 200);
      assert.equal(await put(audience('dev2'), edgeHubToken(2)), 200);  // se is whole seconds: 1-2 s left
      const expiring = connection.open_sender({ target: { address: '/devices/dev2/messages/events' } });
      await nextEvent((done) => expiring.once('sender_open', done));
      const closed = nextEvent((done) => expiring.once('sender_close', done), 5000);
      await closed;
      assert.equal(expiring.error.condition, 'amqp:unauthorized-access');
      const mine = standinView(connection);
      assert.deepEqual(mine.identities, ['dev1']);
    } finally {
      connection.close();
    }
  });

  test('SASL PLAIN with a device token authenticates that device for the connection', TIMEOUT, async () => {
    const token = makeToken(HUB_HOST, 'dev1', IDENTITIES.dev1.primaryKey);
    const connection = await openRhea({ username: `dev1@sas.${HUB_HOST.split('.')[0]}`, password: token });
    try {
      const mine = standinView(connection);
      assert.deepEqual([mine.saslMechanism, mine.identities], ['PLAIN', ['dev1']]);
    } finally {
      connection.close();
    }
    const wrong = makeToken(HUB_HOST, 'dev1', key('not dev1'));
    const refused = rhea.create_container().connect({ host: '127.0.0.1', port: ports.amqpsPort, transport: 'tls', ca,
                                                      servername: HUB_HOST, reconnect: false,
                                                      username: `dev1@sas.${HUB_HOST.split('.')[0]}`, password: wrong });
    refused.on('disconnected', () => {});
    const [context] = await nextEvent((done) => refused.once('connection_error', done));
    assert.equal(context.error.condition, 'amqp:unauthorized-access');
    assert.equal(hub.putTokens.at(-1).via, 'sasl-plain');
    assert.equal(hub.putTokens.at(-1).status, 401);
  });
});

/** POST to the stand-in's HTTPS API; resolves { status, body }. */
function post(pathAndQuery, body, authorization) {
  return new Promise((resolve, reject) => {
    const request = https.request({ host: '127.0.0.1', port: ports.httpsPort, servername: HUB_HOST, ca, method: 'POST',
                                    path: pathAndQuery, headers: { 'content-type': 'application/json',
                                                                   ...(authorization ? { authorization } : {}) } },
                                  (response) => {
                                    let text = '';
                                    response.on('data', (chunk) => { text += chunk; });
                                    response.on('end', () => resolve({ status: response.statusCode, body: JSON.parse(text) }));
                                  });
    request.on('error', reject);
    request.end(JSON.stringify(body));
  });
}

describe('the device-scope API', () => {
  const scopePath = (edge, apiVersion = '2020-06-30-preview') =>
    `/devices/${edge}/modules/%24edgeHub/devicesAndModulesInTargetDeviceScope?api-version=${apiVersion}`;
  const edge2Token = makeToken(HUB_HOST, 'edge2/$edgeHub', IDENTITIES['edge2/$edgeHub'].primaryKey);

  test('pages through edge2\'s three identities one at a time', TIMEOUT, async () => {
    const seen = [];
    let continuationLink;
    for (let page = 0; page < 3; page++) {
      const { status, body } = await post(scopePath('edge2'), { pageSize: 1, continuationLink, authChain: 'edge2' }, edge2Token);
      assert.equal(status, 200, JSON.stringify(body));
      assert.equal(body.devices.length + body.modules.length, 1);
      seen.push(...body.devices.map((d) => d.deviceId), ...body.modules.map((m) => `${m.deviceId}/${m.moduleId}`));
      continuationLink = body.continuationLink;
    }
    assert.equal(continuationLink, null, 'the last page has no continuation');
    assert.deepEqual(seen, ['edge2', 'leaf2', 'edge2/$edgeHub']);

    const { body } = await post(scopePath('edge2'), { pageSize: 10 }, edge2Token);
    const leaf = body.devices.find((d) => d.deviceId === 'leaf2');
    const edge = body.devices.find((d) => d.deviceId === 'edge2');
    assert.equal(leaf.authentication.type, 'sas');
    assert.equal(leaf.authentication.symmetricKey.primaryKey, IDENTITIES.leaf2.primaryKey);
    assert.equal(leaf.deviceScope, edge.deviceScope);
    assert.deepEqual(leaf.parentScopes, [edge.deviceScope]);
    assert.deepEqual([edge.capabilities.iotEdge, leaf.capabilities.iotEdge, leaf.status], [true, false, 'enabled']);
  });

  test('refuses a bad token, another edge\'s token and a wrong api-version', TIMEOUT, async () => {
    const forged = makeToken(HUB_HOST, 'edge2/$edgeHub', key('not the key'));
    assert.equal((await post(scopePath('edge2'), { pageSize: 1 }, forged)).status, 401);
    assert.equal((await post(scopePath('edge2'), { pageSize: 1 })).status, 401);
    assert.equal((await post(scopePath('edge2'), { pageSize: 1 }, edgeHubToken(3600))).status, 401);
    const wrongVersion = await post(scopePath('edge2', '2018-08-30-preview'), { pageSize: 1 }, edge2Token);
    assert.equal(wrongVersion.status, 400);
    assert.match(wrongVersion.body.Message, /^ErrorCode:InvalidProtocolVersion;/);
  });

  test('getDeviceAndModuleOnBehalfOf answers in-scope identities only', TIMEOUT, async () => {
    const onBehalfOf = '/devices/gw/modules/$edgeHub/getDeviceAndModuleOnBehalfOf?api-version=2020-06-30-preview';
    const found = await post(onBehalfOf, { targetDeviceId: 'dev1', authChain: 'dev1;gw' }, edgeHubToken(3600));
    assert.equal(found.status, 200);
    assert.deepEqual(found.body.devices.map((d) => d.deviceId), ['dev1']);
    const module = await post(onBehalfOf, { targetDeviceId: 'gw', targetModuleId: '$edgeHub' }, edgeHubToken(3600));
    assert.deepEqual(module.body.modules.map((m) => m.moduleId), ['$edgeHub']);
    const outside = await post(onBehalfOf, { targetDeviceId: 'outsider', authChain: 'outsider;gw' }, edgeHubToken(3600));
    assert.equal(outside.status, 401);
  });
});

describe('an outage', () => {
  test('stop closes every connection; start on the same ports serves again', TIMEOUT, async () => {
    const client = await openDevice('dev1', amqpSdk.Amqp);
    const disconnected = nextEvent((done) => client.once('disconnect', done));
    await hub.stop();
    await disconnected;
    assert.deepEqual(hub.connections(), []);
    await hub.start(ports);
    const again = await openDevice('dev1', amqpSdk.Amqp);
    const arrived = hub.next('telemetry', (t) => t.body.toString() === 'after the outage');
    await again.sendEvent(new Message('after the outage'));
    await arrived;
    await again.close();
    await client.close().catch(() => {});
  });
});
