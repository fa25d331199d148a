// A STAND-IN FOR IOT HUB'S TWIN SERVICE ON MQTT, for tests only (IoT Hub cannot be reached
// here): mosquitto from Debian plays IoT Hub's MQTT endpoint (TLS, certificate from the test
// PKI's root), and TwinResponder, a small mqtt.js client on its plain listener, answers what a
// device (here: edgehubd's upstream connection of that device) publishes on IoT Hub's twin topics
// (iot-hub-protocol.md §7.2): `$iothub/twin/GET/?$rid=` with 200 and the twin,
// `$iothub/twin/PATCH/properties/reported/?$rid=` with 204 and the new $version, both on
// `$iothub/twin/res/{status}/?$rid=&$version=`. Desired patches a test publishes into the broker
// (as IoT Hub would send them) change its twin too. A broker cannot tell which identity
// published, so the responder keeps ONE twin (one device at a time); the twin rules are the
// stand-in's (twins.mjs).
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import mqtt from 'mqtt';

import { TwinStore } from './twins.mjs';

async function until(predicate, what, ms = 20000) {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** mosquitto with a TLS listener (certificate from `rootCert`/`rootKey`) and a plain one.
 *  `persistent`: sessions and what is queued for them survive a stop() and start(). */
export class MosquittoHub {
  constructor({ dir, rootCert, rootKey, tlsPort, plainPort, persistent = false }) {
    Object.assign(this, { dir, tlsPort, plainPort });
    fs.mkdirSync(dir, { recursive: true });
    const at = (f) => path.join(dir, f);
    fs.writeFileSync(at('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                             '-nodes', '-keyout', at('broker.key'), '-subj', '/CN=localhost', '-out', at('broker.csr')],
                 { stdio: 'ignore' });
    execFileSync('openssl', ['x509', '-req', '-in', at('broker.csr'), '-CA', rootCert, '-CAkey', rootKey,
                             '-CAcreateserial', '-CAserial', at('root.srl'), '-days', '2',
                             '-extfile', at('ext.cnf'), '-out', at('broker.pem')], { stdio: 'ignore' });
    fs.writeFileSync(at('mosquitto.conf'), [
      `user ${os.userInfo().username}`,  // as root mosquitto would switch to a user who cannot read dir
      'per_listener_settings true',
      ...(persistent ? ['persistence true', `persistence_location ${dir}/`, 'max_queued_messages 100000'] : []),
      `listener ${tlsPort} 127.0.0.1`, `cafile ${rootCert}`, `certfile ${at('broker.pem')}`,
      `keyfile ${at('broker.key')}`, 'allow_anonymous true',
      `listener ${plainPort} 127.0.0.1`, 'allow_anonymous true', '',
    ].join('\n'));
  }

  async start() {
    this.child = spawn('/usr/sbin/mosquitto', ['-c', path.join(this.dir, 'mosquitto.conf')],
                       { stdio: ['ignore', 'ignore', 'pipe'] });
    this.log = '';
    this.child.stderr.on('data', (c) => { this.log += c.toString(); });
    await until(() => this.log.includes(`port ${this.plainPort}`) || this.child.exitCode !== null,
                'mosquitto to listen');
    if (this.child.exitCode !== null) throw new Error(`mosquitto exited:\n${this.log}`);
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.on('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** IoT Hub's twin service on a broker's plain listener at `port` (reconnects if it restarts). */
export class TwinResponder {
  constructor(port) {
    this.port = port;
    this.twins = new TwinStore();
    this.requests = [];  // { operation, rid, status } in arrival order
  }

  async start() {
    this.client = mqtt.connect(`mqtt://127.0.0.1:${this.port}`, { clientId: 'twin-service', reconnectPeriod: 200 });
    this.client.on('message', (topic, payload) => this.onMessage(topic, payload.toString()));
    await until(() => this.client.connected, 'the twin responder to connect');
    await new Promise((resolve, reject) => this.client.subscribe(
      ['$iothub/twin/GET/#', '$iothub/twin/PATCH/properties/reported/#',
       '$iothub/twin/PATCH/properties/desired/#'], { qos: 0 }, (e) => (e ? reject(e) : resolve())));
  }

  /** The twin, as IoT Hub holds it. */
  twin() { return structuredClone(this.twins.get('device')); }
  updateDesired(patch) { return this.twins.updateDesired('device', patch); }

  onMessage(topic, body) {
    if (topic.startsWith('$iothub/twin/PATCH/properties/desired/')) {
      let patch;
      try { patch = JSON.parse(body); } catch { return; }  // '' clears a retained patch
      this.twins.applyPublishedDesired('device', patch);
      return;
    }
    const rid = new URLSearchParams(topic.slice(topic.indexOf('?') + 1)).get('$rid');
    if (!rid) return;  // IoT Hub ignores requests without a $rid
    const operation = topic.startsWith('$iothub/twin/GET/') ? 'GET' : 'PATCH';
    const result = this.twins.request('device', operation, '/properties/reported', body);
    this.requests.push({ operation, rid, status: result.status });
    const version = result.version !== undefined ? `&$version=${result.version}` : '';
    const payload = result.body === undefined ? '' : JSON.stringify(result.body);
    this.client.publish(`$iothub/twin/res/${result.status}/?$rid=${rid}${version}`, payload, { qos: 0 });
  }

  stop() { this.client?.end(true); }
}
