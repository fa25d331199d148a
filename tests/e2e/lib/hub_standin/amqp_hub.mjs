// The AMQP side of the IoT Hub stand-in (iot-hub-protocol.md §3, §7.3, §8.3, §9.2): SASL
// (none, ANONYMOUS, MSSBCBS, PLAIN), CBS put-tokens with renewal and expiry, and per identity
// the telemetry, C2D, twin and method links, on one rhea container serving every connection
// (TLS or WebSocket). What it sees is recorded on the `record` object it is given.
import crypto from 'node:crypto';

import rhea from 'rhea';
import rheaWebSocket from 'rhea/lib/ws.js';

import { parseAddress } from './addresses.mjs';
import { authorizeToken, identityOfPlainUser } from './authorization.mjs';
import { TokenError, resourceOf } from './sas.mjs';

const { types } = rhea;
const TOKEN_TYPES = ['azure-devices.net:sastoken', 'servicebus.windows.net:sastoken'];
const TELEMETRY_CREDIT = 100;
const CHANNEL_PROPERTY = 'com.microsoft:channel-correlation-id';
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Raised for a method invocation that reached no device or no answer (HTTP-like status). */
export class MethodInvocationError extends Error {
  constructor(status, code, message) {
    super(message);
    Object.assign(this, { status, code });
  }
}

/** A 16-byte AMQP uuid as rhea hands it over becomes its text form; other ids stay as they are. */
function normaliseId(id) {
  return Buffer.isBuffer(id) && id.length === 16 ? rhea.uuid_to_string(id) : id;
}

/** The bytes of a message body: a data section's content, a string's UTF-8, or JSON of a value. */
function bodyBytes(body) {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (body.typecode === 0x75) return Buffer.from(body.multiple ? Buffer.concat(body.content) : body.content);
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.from(JSON.stringify(body), 'utf8');
}

const SYSTEM_PROPERTIES = ['message_id', 'user_id', 'to', 'subject', 'reply_to', 'correlation_id', 'content_type',
                           'content_encoding', 'absolute_expiry_time', 'creation_time', 'group_id',
                           'group_sequence', 'reply_to_group_id'];

/** The AMQP properties section of a received message, ids normalised. */
function propertiesOf(message) {
  const properties = {};
  for (const name of SYSTEM_PROPERTIES) {
    if (message[name] !== undefined) properties[name] = normaliseId(message[name]);
  }
  return properties;
}

/** One AMQP connection: its transport, SASL outcome, granted identities and device links. */
class HubConnection {
  constructor(id, transport, rheaConnection) {
    Object.assign(this, { id, transport, rheaConnection });
    this.saslMechanism = 'none';
    this.hostname = undefined;
    this.containerId = undefined;
    this.grants = new Map();       // identity -> { expiresAt, timer, onBehalfOf, via: 'cbs'|'sasl-plain' }
    this.links = new Set();        // { link, identity, feature, role, channel, subscribed }
    this.cbsSender = null;
    this.pendingCbsReplies = [];   // replies waiting for the client's $cbs receiver link
    this.closed = false;
  }

  linksOf(identity, feature, role) {
    return [...this.links].filter((l) => l.identity === identity && l.feature === feature && l.role === role &&
                                         l.link.is_open());
  }
}

export class AmqpHub {
  /** `record`: { telemetry: [], putTokens: [], rejected: [], emit(name, value) } (the HubStandin). */
  constructor({ hubName, registry, twins, record }) {
    Object.assign(this, { hubName, registry, twins, record });
    this.connections = new Map();
    this.nextConnection = 1;
    this.rejections = new Map();   // identity -> { remaining, condition }
    this.holding = false;
    this.held = [];                // telemetry deliveries left unsettled while holding
    this.c2dQueues = new Map();    // identity -> [{ message, resolve, reject, delivery? }]
    this.pendingMethods = new Map();  // correlation id -> { identity, resolve, reject, timer, link }
    this.container = rhea.create_container({
      id: `iothub-standin-${hubName}`, autoaccept: false, treat_modified_as_released: false,
      credit_window: TELEMETRY_CREDIT, reconnect: false,
    });
    this.container.sasl_server_mechanisms = this.saslMechanisms();
    // rhea emits 'error' on the container for errors no handler took: a client's protocol error
    // must not throw out of the stand-in.
    this.container.on('error', (error) => this.record.emit('amqpError', error));
  }

  /** SASL as IoT Hub offers it: ANONYMOUS (and no SASL at all), MSSBCBS, PLAIN with a SAS token. */
  saslMechanisms() {
    const mechanisms = rhea.sasl.server_mechanisms();
    const hub = this;
    mechanisms.ANONYMOUS = () => ({ name: 'ANONYMOUS', start() { this.outcome = true; this.username = 'anonymous'; } });
    // MSSBCBS (uAMQP): an empty initial response; identities then authenticate through $cbs.
    mechanisms.MSSBCBS = () => ({ name: 'MSSBCBS', start() { this.outcome = true; this.username = 'cbs'; } });
    mechanisms.PLAIN = () => ({
      name: 'PLAIN',
      start(response) {
        const [, user, password] = (response ?? Buffer.alloc(0)).toString('utf8').split('\0');
        try {
          const identity = identityOfPlainUser(user, hub.hubName);
          this.grant = authorizeToken({ registry: hub.registry, hubName: hub.hubName,
                                        audience: resourceOf(hub.hubName, identity), token: password });
          this.outcome = true;
          this.username = user;
        } catch (error) {
          // Anything else would be a stand-in bug: refuse, and say so where tests can see it.
          if (!(error instanceof TokenError)) hub.record.emit('amqpError', error);
          this.refusal = error.message;
          this.outcome = false;
        }
        // The connection id is filled in when the connection opens (rhea tells the mechanism nothing of it).
        this.entry = { connectionId: null, identity: this.grant?.identity ?? null, audience: user,
                       expiresAt: this.grant?.expiresAt, at: new Date(), status: this.outcome ? 200 : 401,
                       description: this.refusal ?? 'OK', via: 'sasl-plain', renewal: false, onBehalfOf: null };
        hub.record.putTokens.push(this.entry);
        hub.record.emit('putToken', this.entry);
      },
    });
    return mechanisms;
  }

  /** Serves a new transport: a TLS socket, or a ws WebSocket (`transport` 'amqps' or 'wss');
   *  `tlsSocket` carries it. A client certificate whose subject CN names a registry identity
   *  with X.509 authentication (`x509Ca` or `x509Thumbprint`) authenticates that identity for
   *  the whole connection, as IoT Hub does (the stand-in checks the name only, not the chain). */
  accept(socket, transport, tlsSocket) {
    const id = `amqp-${this.nextConnection++}`;
    const rheaConnection = this.container.create_connection({ id });
    const connection = new HubConnection(id, transport, rheaConnection);
    this.connections.set(id, connection);
    connection.clientCertificate = tlsSocket?.getPeerCertificate()?.subject?.CN ?? null;
    const certified = connection.clientCertificate && this.registry.get(connection.clientCertificate);
    if (certified?.x509Ca || certified?.x509Thumbprint) {
      connection.grants.set(connection.clientCertificate, { via: 'x509' });
    }
    rheaConnection.on('connection_open', (context) => this.onOpen(connection, context));
    rheaConnection.on('receiver_open', (context) => this.onLinkOpen(connection, context.receiver, 'receiver'));
    rheaConnection.on('sender_open', (context) => this.onLinkOpen(connection, context.sender, 'sender'));
    rheaConnection.on('message', (context) => this.onMessage(connection, context));
    for (const outcome of ['accepted', 'rejected', 'released', 'modified']) {
      rheaConnection.on(outcome, (context) => this.onOutcome(outcome, context));
    }
    rheaConnection.on('receiver_close', (context) => this.onLinkClosed(connection, context.receiver));
    rheaConnection.on('sender_close', (context) => this.onLinkClosed(connection, context.sender));
    // A client's detach or close with an error is the client's business; without these handlers
    // rhea passes it up to the container as an 'error'.
    rheaConnection.on('receiver_error', () => {});
    rheaConnection.on('sender_error', () => {});
    rheaConnection.on('connection_error', () => {});
    rheaConnection.on('connection_close', () => this.onClosed(connection));
    rheaConnection.on('disconnected', () => this.onClosed(connection));
    rheaConnection.accept(transport === 'wss' ? rheaWebSocket.wrap(socket) : socket);
    return connection;
  }

  onOpen(connection, context) {
    const rheaConnection = context.connection;
    connection.hostname = rheaConnection.remote.open?.hostname;
    connection.containerId = rheaConnection.remote.open?.container_id;
    const sasl = rheaConnection.sasl_transport;
    const mechanism = (sasl?.selected ?? sasl)?.mechanism;
    if (mechanism) connection.saslMechanism = mechanism.name;
    if (mechanism?.grant) {
      mechanism.entry.connectionId = connection.id;
      this.grant(connection, { ...mechanism.grant, via: 'sasl-plain' });
    }
    this.record.emit('connection', this.describe(connection));
  }

  /** Records a granted identity on the connection and arms its expiry. */
  grant(connection, { identity, expiresAt, onBehalfOf, via }) {
    const previous = connection.grants.get(identity);
    if (previous) clearTimeout(previous.timer);
    const delay = expiresAt.getTime() - Date.now();
    const timer = delay < MAX_TIMER_MS ? setTimeout(() => this.expire(connection, identity), delay) : undefined;
    timer?.unref();
    connection.grants.set(identity, { expiresAt, timer, onBehalfOf, via });
    return previous !== undefined;
  }

  /**
   * A token ran out without renewal. A CBS identity loses its links and the connection stays for
   * the others; a SASL PLAIN connection has only that token and is closed (§3.1).
   */
  expire(connection, identity) {
    const grant = connection.grants.get(identity);
    connection.grants.delete(identity);
    this.record.emit('tokenExpired', { connectionId: connection.id, identity });
    const error = { condition: 'amqp:unauthorized-access', description: `the token for '${identity}' expired` };
    if (grant?.via === 'sasl-plain') {
      connection.rheaConnection.close(error);
      return;
    }
    for (const entry of connection.links) {
      if (entry.identity === identity && entry.link.is_open()) entry.link.close(error);
    }
  }

  onLinkOpen(connection, link, role) {
    // Our receiver is the client's sender: its address is the client's target; our sender is
    // the client's receiver, addressed by the client's source.
    const terminus = role === 'receiver' ? link.remote.attach.target : link.remote.attach.source;
    const address = terminus?.address;
    const parsed = parseAddress(address);
    const refuse = (condition, description) => link.close({ condition, description });
    if (!parsed) return refuse('amqp:not-found', `'${address}' is not an IoT Hub link address`);
    if (parsed.feature === 'cbs') {
      this.echoTerminus(link, role, address);
      if (role === 'sender') {
        connection.cbsSender = link;
        // After this handler rhea sends the attach reply; a transfer sent from inside it would
        // go out first, on a handle the client does not know yet (a protocol error).
        setImmediate(() => {
          for (const reply of connection.pendingCbsReplies.splice(0)) link.send(reply);
        });
      }
      return;
    }
    const { identity, feature } = parsed;
    if (!connection.grants.has(identity)) {
      return refuse('amqp:unauthorized-access', `'${identity}' has not authenticated on this connection`);
    }
    if (feature === 'c2d' && role === 'receiver') return refuse('amqp:not-allowed', 'C2D links are receive-only');
    if (feature === 'telemetry' && role === 'sender') {
      return refuse('amqp:not-implemented', 'module input messages come from an edge device, not from IoT Hub');
    }
    this.echoTerminus(link, role, address);
    const channel = link.remote.attach.properties?.[CHANNEL_PROPERTY];
    connection.links.add({ link, identity, feature, role, channel, subscribed: false });
    this.record.emit('link', { connectionId: connection.id, identity, feature,
                              clientRole: role === 'receiver' ? 'sender' : 'receiver' });
    if (feature === 'c2d') setImmediate(() => this.pumpC2D(identity));  // after the attach reply
  }

  /** The attach reply names the same terminus: a null one would mean refusal. */
  echoTerminus(link, role, address) {
    if (role === 'receiver') link.set_target({ address });
    else link.set_source({ address });
  }

  entryOf(connection, link) {
    for (const entry of connection.links) if (entry.link === link) return entry;
    return undefined;
  }

  onMessage(connection, context) {
    const { receiver, delivery, message } = context;
    const address = receiver.remote.attach.target?.address;
    if (address === '$cbs') return this.onPutToken(connection, delivery, message);
    const entry = this.entryOf(connection, receiver);
    if (!entry) return delivery.reject({ condition: 'amqp:not-found', description: 'unknown link' });
    if (!connection.grants.has(entry.identity)) {
      return delivery.reject({ condition: 'amqp:unauthorized-access', description: `'${entry.identity}' is not authenticated` });
    }
    if (entry.feature === 'telemetry') return this.onTelemetry(connection, entry, delivery, message);
    if (entry.feature === 'twin') return this.onTwinRequest(connection, entry, delivery, message);
    if (entry.feature === 'methods') return this.onMethodResponse(entry, delivery, message);
    return delivery.reject({ condition: 'amqp:not-allowed', description: `no messages are taken on '${address}'` });
  }

  onPutToken(connection, delivery, message) {
    const properties = message.application_properties ?? {};
    const name = properties.name;
    let status = 200;
    let description = 'OK';
    let grant;
    try {
      if (properties.operation !== 'put-token') {
        throw new TokenError(`CBS operation '${properties.operation}' is not supported`, 400);
      }
      if (!TOKEN_TYPES.includes(properties.type)) {
        throw new TokenError(`CBS token type '${properties.type}' is not supported`, 400);
      }
      if (typeof name !== 'string') throw new TokenError('the put-token has no name (audience)', 400);
      if (typeof message.body !== 'string') throw new TokenError('the token must be an AMQP string body (amqp-value)', 400);
      grant = authorizeToken({ registry: this.registry, hubName: this.hubName, audience: name, token: message.body,
                               authChain: properties['auth-chain'] });
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      status = error.status;
      description = error.message;
    }
    const renewal = grant ? this.grant(connection, { ...grant, via: 'cbs' }) : false;
    const entry = { connectionId: connection.id, identity: grant?.identity ?? null, audience: name,
                    expiresAt: grant?.expiresAt, at: new Date(), status, description, via: 'cbs', renewal,
                    onBehalfOf: grant?.onBehalfOf ?? null, authChain: properties['auth-chain'],
                    type: properties.type, expiration: properties.expiration };
    this.record.putTokens.push(entry);
    this.record.emit('putToken', entry);
    delivery.accept();
    const reply = {
      correlation_id: message.message_id, to: message.reply_to,
      application_properties: { 'status-code': types.wrap_int(status), 'status-description': description },
    };
    if (connection.cbsSender?.is_open()) connection.cbsSender.send(reply);
    else connection.pendingCbsReplies.push(reply);
  }

  onTelemetry(connection, entry, delivery, message) {
    const rejection = this.rejections.get(entry.identity);
    if (rejection?.remaining > 0) {
      rejection.remaining -= 1;
      this.record.rejected.push({ identity: entry.identity, condition: rejection.condition, at: new Date() });
      return delivery.reject({ condition: rejection.condition, description: 'rejected by the stand-in (rejectNext)' });
    }
    const received = {
      identity: entry.identity, connectionId: connection.id, body: bodyBytes(message.body),
      properties: propertiesOf(message), applicationProperties: { ...message.application_properties },
      annotations: { ...message.message_annotations }, receivedAt: new Date(),
    };
    this.record.telemetry.push(received);
    this.record.emit('telemetry', received);
    if (this.holding) this.held.push(delivery);
    else delivery.accept();
  }

  setHolding(holding) {
    this.holding = holding;
    if (!holding) for (const delivery of this.held.splice(0)) if (delivery.link.is_open()) delivery.accept();
  }

  rejectNext(identity, count, condition) {
    this.rejections.set(identity, { remaining: count, condition });
  }

  /** The twin sender paired with a request link: same channel id, else any of the identity's. */
  twinReplyLink(connection, entry) {
    const senders = connection.linksOf(entry.identity, 'twin', 'sender');
    return senders.find((s) => entry.channel !== undefined && s.channel === entry.channel) ?? senders[0];
  }

  onTwinRequest(connection, entry, delivery, message) {
    delivery.accept();  // twin requests come pre-settled from the SDK; this covers clients that do not
    const annotations = message.message_annotations ?? {};
    const { operation, resource } = annotations;
    const reply = this.twinReplyLink(connection, entry);
    let answer;
    if ((operation === 'PUT' || operation === 'DELETE') && resource === '/notifications/twin/properties/desired') {
      if (reply) reply.subscribed = operation === 'PUT';
      answer = { status: operation === 'PUT' ? 200 : 204 };
    } else {
      answer = this.twins.request(entry.identity, operation, resource, bodyBytes(message.body).toString('utf8'));
    }
    this.record.emit('twinRequest', { identity: entry.identity, operation, resource, status: answer.status });
    if (!reply) return;  // no link to answer on: the client never attached its twin receiver
    const response = {
      correlation_id: message.correlation_id,
      message_annotations: { status: types.wrap_int(answer.status),
                             ...(answer.version !== undefined ? { version: types.wrap_long(answer.version) } : {}) },
    };
    if (answer.body !== undefined) response.body = rhea.message.data_section(Buffer.from(JSON.stringify(answer.body)));
    reply.link.send(response);
  }

  /**
   * Applies a desired patch and notifies every subscribed twin link of the identity; with
   * `notify: false` the notification is lost on its way (the next one arrives after a version gap).
   */
  updateDesired(identity, patch, { notify = true } = {}) {
    const notification = this.twins.updateDesired(identity, patch);
    let notified = 0;
    if (!notify) return { version: notification.$version, notified };
    for (const connection of this.connections.values()) {
      for (const entry of connection.linksOf(identity, 'twin', 'sender')) {
        if (!entry.subscribed) continue;
        entry.link.send({ message_annotations: { version: types.wrap_long(notification.$version) },
                          body: rhea.message.data_section(Buffer.from(JSON.stringify(notification))) });
        notified += 1;
      }
    }
    return { version: notification.$version, notified };
  }

  /** Open links of `feature`/`role` for an identity that is still authenticated, newest last. */
  liveLinks(identity, feature, role) {
    return [...this.connections.values()].filter((c) => c.grants.has(identity))
      .flatMap((c) => c.linksOf(identity, feature, role));
  }

  sendC2D(identity, { body, messageId, correlationId, properties = {}, ack } = {}) {
    return new Promise((resolve, reject) => {
      const lockToken = crypto.randomUUID();
      const message = {
        message_id: messageId ?? crypto.randomUUID(), correlation_id: correlationId,
        to: `/devices/${identity}/messages/devicebound`,
        application_properties: { ...Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, String(v)])),
                                  ...(ack ? { 'iothub-ack': ack } : {}) },
        message_annotations: { 'iothub-enqueuedtime': new Date(), 'iothub-deliverycount': types.wrap_uint(0),
                               'x-opt-lock-token': types.wrap_uuid(rhea.string_to_uuid(lockToken)),
                               'x-opt-sequence-number': types.wrap_ulong(this.nextSequence = (this.nextSequence ?? 0) + 1) },
        body: rhea.message.data_section(Buffer.isBuffer(body) ? body : Buffer.from(String(body ?? ''))),
      };
      if (!this.c2dQueues.has(identity)) this.c2dQueues.set(identity, []);
      this.c2dQueues.get(identity).push({ message, lockToken, resolve, reject, delivery: null });
      this.pumpC2D(identity);
    });
  }

  /** Sends queued C2D messages of `identity` that are not in flight on its newest C2D link. */
  pumpC2D(identity) {
    const link = this.liveLinks(identity, 'c2d', 'sender').at(-1)?.link;
    if (!link) return;
    for (const entry of this.c2dQueues.get(identity) ?? []) {
      if (entry.delivery) continue;
      entry.delivery = link.send(entry.message, rhea.string_to_uuid(entry.lockToken));
      entry.link = link;
    }
  }

  onOutcome(outcome, context) {
    const { delivery } = context;
    for (const [identity, queue] of this.c2dQueues) {
      const index = queue.findIndex((entry) => entry.delivery === delivery);
      if (index < 0) continue;
      const [entry] = queue.splice(index, 1);
      const error = outcome === 'rejected' ? delivery.remote_state?.error : undefined;
      entry.resolve({ outcome, identity, messageId: entry.message.message_id, lockToken: entry.lockToken, error });
      return;
    }
  }

  invokeMethod(identity, { methodName, payload = null, timeoutMs = 30000 }) {
    const link = this.liveLinks(identity, 'methods', 'sender').at(-1)?.link;
    if (!link) {
      return Promise.reject(new MethodInvocationError(404, 'DeviceNotOnline',
                                                      `'${identity}' has no method link open (404103 DeviceNotOnline)`));
    }
    const correlationId = crypto.randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingMethods.delete(correlationId);
        reject(new MethodInvocationError(504, 'GatewayTimeout',
                                         `'${identity}' did not answer '${methodName}' in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pendingMethods.set(correlationId, { identity, resolve, reject, timer, link });
      link.send({ correlation_id: correlationId, application_properties: { 'IoThub-methodname': methodName },
                  body: rhea.message.data_section(Buffer.from(JSON.stringify(payload))) });
    });
  }

  onMethodResponse(entry, delivery, message) {
    delivery.accept();
    const correlationId = normaliseId(message.correlation_id);
    const pending = this.pendingMethods.get(correlationId);
    if (!pending || pending.identity !== entry.identity) return;  // late or foreign: the caller has moved on
    this.pendingMethods.delete(correlationId);
    clearTimeout(pending.timer);
    const text = bodyBytes(message.body).toString('utf8');
    let payload = null;
    if (text.length) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = text;
      }
    }
    pending.resolve({ status: Number(message.application_properties?.['IoThub-status']), payload });
  }

  onLinkClosed(connection, link) {
    const entry = this.entryOf(connection, link);
    if (entry) connection.links.delete(entry);
    if (connection.cbsSender === link) connection.cbsSender = null;
    if (entry?.feature === 'c2d') {
      // As IoT Hub: a message whose lock is lost goes back to the queue for the next link.
      for (const queued of this.c2dQueues.get(entry.identity) ?? []) {
        if (queued.link === link) Object.assign(queued, { delivery: null, link: null });
      }
      this.pumpC2D(entry.identity);
    }
    if (entry?.feature === 'methods' && entry.role === 'sender') {
      for (const [id, pending] of this.pendingMethods) {
        if (pending.link !== link) continue;
        this.pendingMethods.delete(id);
        clearTimeout(pending.timer);
        pending.reject(new MethodInvocationError(404, 'DeviceNotOnline', `'${entry.identity}' went away before answering`));
      }
    }
  }

  onClosed(connection) {
    if (connection.closed) return;
    connection.closed = true;
    for (const link of [...connection.links].map((entry) => entry.link)) this.onLinkClosed(connection, link);
    for (const grant of connection.grants.values()) clearTimeout(grant.timer);
    connection.grants.clear();
    this.connections.delete(connection.id);
    this.record.emit('disconnection', { id: connection.id });
  }

  describe(connection) {
    return { id: connection.id, transport: connection.transport, saslMechanism: connection.saslMechanism,
             hostname: connection.hostname, containerId: connection.containerId,
             clientCertificate: connection.clientCertificate,
             identities: [...connection.grants.keys()] };
  }

  list() {
    return [...this.connections.values()].filter((c) => !c.closed).map((c) => this.describe(c));
  }

  /** Ends every connection's state (the sockets are destroyed by the caller). */
  closeAll() {
    for (const connection of [...this.connections.values()]) {
      // rhea learns of a socket's end only from its 'end' event, which a destroyed socket never
      // emits: without this its heartbeat timer (the client asked for one) runs on for ever.
      connection.rheaConnection.eof();
      this.onClosed(connection);
    }
  }
}
