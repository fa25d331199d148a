// Issue 8, the gateway's own identity by X.509: with [provisioning.authentication] method =
// "x509", edgehubd's AMQP upstream presents the identity certificate in the TLS handshake (IoT
// Hub authenticates the gateway by it, no token), while its devices still go up on behalf of the
// gateway's $edgeHub module. The IoT Hub stand-in (lib/hub_standin.mjs) records the certificate.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import deviceSdk from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';

import { freePorts, startGateway, waitFor, EDGE_DEVICE, HUB_HOST } from './lib/gateway.mjs';
import { HubStandin } from './lib/hub_standin.mjs';
import { hubCertificateFrom } from './lib/upstream_setup.mjs';

const { Client, Message } = deviceSdk;
const EDGEHUB_KEY = Buffer.from('fedcba9876543210fedcba9876543210').toString('base64');
const TIMEOUT = { timeout: 30000 };

describe('the gateway authenticated upstream by its X.509 identity certificate', () => {
  let gateway; let hub; let identityDir;
  before(async () => {
    const [amqpsPort] = await freePorts(1);
    // The gateway's identity certificate (CN = its device id) from a demo PKI of its own.
    identityDir = fs.mkdtempSync(path.join(os.tmpdir(), 'eh-x509-identity-'));
    execFileSync(process.env.EDGEHUBCTL_BINARY, ['certs', 'demo', '--dir', identityDir,
                                                 '--edge-name', 'identity', '--device', EDGE_DEVICE]);
    gateway = await startGateway({
      devices: ['sensor-1'],
      routes: { toHub: 'FROM /messages/* INTO $upstream' },
      preamble: ['parent_hostname = "localhost"', '[provisioning]', 'source = "manual"',
                 `iothub_hostname = "${HUB_HOST}:${amqpsPort}"`, `device_id = "${EDGE_DEVICE}"`,
                 `edgehub_module_key = "${EDGEHUB_KEY}"`,
                 '[provisioning.authentication]', 'method = "x509"',
                 `identity_cert = "file://${identityDir}/certs/iot-device-${EDGE_DEVICE}-full-chain.cert.pem"`,
                 `identity_pk = "file://${identityDir}/private/iot-device-${EDGE_DEVICE}.key.pem"`].join('\n'),
      extraGateway: 'upstream_protocol = "amqp"',
    });
    hub = new HubStandin({ hubName: HUB_HOST, ...hubCertificateFrom(gateway), identities: {
      [EDGE_DEVICE]: { x509Ca: true, edge: true }, [`${EDGE_DEVICE}/$edgeHub`]: { primaryKey: EDGEHUB_KEY },
      'sensor-1': { primaryKey: EDGEHUB_KEY, parent: EDGE_DEVICE } } });
    await hub.start({ amqpsPort });
  });
  after(async () => {
    await hub?.stop();
    if (gateway) assert.equal(await gateway.stop(), 0, gateway.log());
    if (identityDir) fs.rmSync(identityDir, { recursive: true, force: true });
  });

  test('the upstream connection presents the certificate and carries the devices\' telemetry', TIMEOUT, async () => {
    const device = Client.fromConnectionString(gateway.connectionString('sensor-1'), mqttSdk.Mqtt);
    await device.setOptions({ ca: gateway.ca });
    await device.open();
    try {
      await device.sendEvent(new Message('over an X.509 gateway'));
    } finally {
      await device.close();
    }
    await waitFor(() => hub.telemetry.some((t) => t.identity === 'sensor-1'), 'the telemetry at the hub', 20000);
    const carrying = hub.connections().filter((c) => c.identities.includes('sensor-1'));
    assert.equal(carrying.length, 1);
    assert.equal(carrying[0].clientCertificate, EDGE_DEVICE);
    assert.ok(carrying[0].identities.includes(EDGE_DEVICE), 'the certificate authenticated the gateway itself');
    const token = hub.putTokens.find((t) => t.identity === 'sensor-1');
    assert.equal(token.status, 200, JSON.stringify(token));
    assert.equal(token.onBehalfOf, EDGE_DEVICE, JSON.stringify(token));  // signed by the $edgeHub key
    assert.equal(token.authChain, `sensor-1;${EDGE_DEVICE}`);
  });
});
