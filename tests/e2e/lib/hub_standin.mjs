// A STAND-IN FOR AZURE IOT HUB'S CLOUD SIDE, for tests only. IoT Hub itself cannot be reached
// from the test machines, so this plays the part of the cloud service that edgehubd's upstream
// (and the Azure IoT device SDK) talk to, following /work/shared/docs/iot-hub-protocol.md: AMQP
// 1.0 over TLS and over WebSocket (SASL, CBS put-tokens with on-behalf-of $edgeHub tokens and
// expiry, telemetry, C2D, twin, direct methods) and the HTTPS device-scope API of edge devices
// (edgehub-reference.md §2.4). It is not IoT Hub: no routing, no event hub, no throttling, no
// persistence, identities given in code. IoT Hub's MQTT side is played by mosquitto
// (upstream_mqtt.test.mjs). Tests observe what arrives and steer what the "hub" does.
//
//   const hub = new HubStandin({ hubName: HUB_HOST, tlsKey, tlsCert, identities: {
//     gw: { primaryKey, edge: true }, 'gw/$edgeHub': { primaryKey }, dev1: { primaryKey, parent: 'gw' } } });
//   await hub.start({ amqpsPort, wssPort, httpsPort });   // from freePorts() in lib/gateway.mjs
//   ... hub.telemetry, hub.connections(), hub.putTokens, hub.sendC2D('dev1', { body: 'x' }) ...
//   await hub.stop();                                      // an outage; start() again resumes
import { EventEmitter } from 'node:events';
import https from 'node:https';
import tls from 'node:tls';

import WebSocket from 'ws';

import { AmqpHub } from './hub_standin/amqp_hub.mjs';
import { redirectTls } from './hub_standin/redirect.mjs';
import { Registry } from './hub_standin/registry.mjs';
import { ScopeApi } from './hub_standin/scope_api.mjs';
import { TwinStore } from './hub_standin/twins.mjs';

export { MethodInvocationError } from './hub_standin/amqp_hub.mjs';
export { makeToken, resourceOf } from './hub_standin/sas.mjs';
export { signServerCertificate } from './hub_standin/certificate.mjs';

const WEBSOCKET_PATH = '/$iothub/websocket';
const AMQP_WEBSOCKET_PROTOCOL = 'amqpwsb10';

/** The subprotocol token the client offered for AMQP, exactly as offered (§4), or undefined. */
function offeredAmqpProtocol(header) {
  return (header ?? '').split(',').map((p) => p.trim()).find((p) => p.toLowerCase() === AMQP_WEBSOCKET_PROTOCOL);
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
}

/**
 * Events: 'telemetry' (a record of `telemetry`), 'putToken' (a record of `putTokens`),
 * 'connection' / 'disconnection', 'link' ({connectionId, identity, feature, clientRole}) for an
 * accepted device link, 'tokenExpired' ({connectionId, identity}), 'twinRequest' ({identity,
 * operation, resource, status}, before the answer is sent),
 * 'amqpError' (a client's protocol error, kept out of the test process).
 */
export class HubStandin extends EventEmitter {
  /** `identities`: see Registry (hub_standin/registry.mjs). */
  constructor({ hubName, tlsKey, tlsCert, identities }) {
    super();
    Object.assign(this, { hubName, tlsKey, tlsCert });
    /** Accepted (or held) telemetry: {identity, connectionId, body, properties, applicationProperties,
     *  annotations, receivedAt}. */
    this.telemetry = [];
    /** Every put-token and SASL PLAIN token: {connectionId, identity, audience, expiresAt, at, status,
     *  description, renewal, onBehalfOf, authChain, type, via}. */
    this.putTokens = [];
    /** Telemetry refused through rejectNext(): {identity, condition, at}. */
    this.rejected = [];
    /** Calls of the scope API: {method, path, edge, operation, query, status, at}. */
    this.scopeRequests = [];
    this.registry = new Registry(identities);
    this.twins = new TwinStore();
    this.amqp = new AmqpHub({ hubName, registry: this.registry, twins: this.twins, record: this });
    this.scopeApi = new ScopeApi({ hubName, registry: this.registry, record: this });
    this.servers = [];
    this.sockets = new Set();
  }

  /** Listens on 127.0.0.1: AMQP over TLS on `amqpsPort`, HTTPS (AMQP over WebSocket and the
   *  scope API) on `wssPort` and `httpsPort` (may be the same port). Any may be omitted. */
  async start({ amqpsPort, wssPort, httpsPort } = {}) {
    if (this.servers.length) throw new Error('the hub stand-in is already started');
    // As IoT Hub, a client certificate is asked for but optional (X.509 devices present one).
    const tlsOptions = { key: this.tlsKey, cert: this.tlsCert, minVersion: 'TLSv1.2',
                         requestCert: true, rejectUnauthorized: false };
    this.ports = { amqpsPort, wssPort, httpsPort };
    if (amqpsPort !== undefined) {
      const server = tls.createServer(tlsOptions);
      server.on('secureConnection', (socket) => this.amqp.accept(socket, 'amqps', socket));
      await this.serve(server, amqpsPort);
      redirectTls(this.hubName, 5671, amqpsPort);
    }
    for (const port of new Set([wssPort, httpsPort].filter((p) => p !== undefined))) {
      const server = https.createServer(tlsOptions, (request, response) => this.onRequest(request, response));
      const webSockets = new WebSocket.Server({ noServer: true, perMessageDeflate: false,
                                                handleProtocols: (offered) => offeredAmqpProtocol(offered.join(',')) });
      server.on('upgrade', (request, socket, head) => this.onUpgrade(webSockets, request, socket, head));
      await this.serve(server, port);
      if (port === wssPort) redirectTls(this.hubName, 443, port);
    }
  }

  async serve(server, port) {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // A client that fails the TLS handshake (e.g. offers TLS 1.1) is refused by Node; nothing to do.
    server.on('tlsClientError', () => {});
    this.servers.push(server);
    await listen(server, port);
  }

  onRequest(request, response) {
    const url = new URL(request.url, 'https://hub');
    if (this.scopeApi.handles(url)) {
      this.scopeApi.serve(request, response, url).catch((error) => {
        response.writeHead(500, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ Message: `ErrorCode:ServerError;${error.message}` }));
      });
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ Message: `ErrorCode:NotFound;the hub stand-in serves no ${request.method} ${url.pathname}` }));
  }

  onUpgrade(webSockets, request, socket, head) {
    const url = new URL(request.url, 'https://hub');
    const refuse = (status, reason) => {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (url.pathname !== WEBSOCKET_PATH) return refuse(404, 'Not Found');
    if (!offeredAmqpProtocol(request.headers['sec-websocket-protocol'])) return refuse(400, 'Bad Request');
    webSockets.handleUpgrade(request, socket, head, (webSocket) => this.amqp.accept(webSocket, 'wss', socket));
  }

  /** Closes every listener and connection at once, as an outage would. start() may follow. */
  async stop() {
    const closed = this.servers.map((server) => new Promise((resolve) => server.close(resolve)));
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.amqp.closeAll();
    this.servers = [];
    await Promise.all(closed);
  }

  /** Resolves with the next `event` value for which `predicate` holds; rejects after `ms`. Call
   *  it before the action that causes the event. */
  next(event, predicate = () => true, ms = 10000) {
    return new Promise((resolve, reject) => {
      const listener = (value) => {
        if (!predicate(value)) return;
        clearTimeout(timer);
        this.off(event, listener);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.off(event, listener);
        reject(new Error(`the hub stand-in saw no matching '${event}' in ${ms} ms`));
      }, ms);
      this.on(event, listener);
    });
  }

  /** Open AMQP connections: {id, transport 'amqps'|'wss', saslMechanism, hostname, containerId, identities}. */
  connections() { return this.amqp.list(); }

  /** The next `count` telemetry messages of `identity` are rejected with `condition`. */
  rejectNext(identity, count, condition = 'amqp:resource-limit-exceeded') {
    this.amqp.rejectNext(identity, count, condition);
  }

  /** While true, telemetry is recorded but left unsettled (a slow hub); false accepts what was held. */
  holdDispositions(hold) { this.amqp.setHolding(hold); }

  /**
   * Queues a C2D message for a device (IoT Hub keeps it until a C2D link takes it) and resolves
   * with the device's settlement: { outcome: accepted|rejected|released|modified, messageId, lockToken, error }.
   */
  sendC2D(identity, message) { return this.amqp.sendC2D(identity, message); }

  /** A copy of the identity's twin: { desired: {..., $version}, reported: {..., $version} }. */
  twin(identity) { return structuredClone(this.twins.get(identity)); }

  /**
   * A back-end desired-properties change: bumps $version and notifies subscribed twin links
   * (unless `{ notify: false }`: a lost notification, so the next one shows a version gap).
   */
  updateDesired(identity, patch, options) { return this.amqp.updateDesired(identity, patch, options); }

  /**
   * A direct method call from the back end: resolves {status, payload} with the device's answer;
   * rejects with a MethodInvocationError of status 404 (no method link) or 504 (no answer in time).
   */
  invokeMethod(identity, request) { return this.amqp.invokeMethod(identity, request); }
}
