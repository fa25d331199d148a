// Issue 9 (nested) end to end: a child edgehubd whose parent_hostname is a parent edgehubd
// fetches its device scope from the parent's HTTPS scope API (docs/http.md), then authenticates
// a real SDK device of that scope that it has no local identity for; with the parent stopped and
// the child restarted, the device still connects (the child's cache in its state_dir).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { metricValue } from './lib/arrival.mjs';
import { connectAndSend } from './lib/device.mjs';
import { startGateway, waitFor, GATEWAY_HOST, HUB_HOST } from './lib/gateway.mjs';

const CHILD = 'child-gw';
const CHILD_KEY = Buffer.from('child-gateway-key-0123456789abcd').toString('base64');
const CHILD_EDGEHUB_KEY = Buffer.from('child-edgehub-key-0123456789abc').toString('base64');
const LEAF = 'nested-leaf';
const LEAF_KEY = Buffer.from('nested-leaf-key-0123456789abcdef').toString('base64');
const OTHER = 'not-in-scope';
const OTHER_KEY = Buffer.from('not-in-scope-key-0123456789abcde').toString('base64');
const TIMEOUT = { timeout: 60000 };

/** One message from `id` with `key`, through `gateway`. */
const sendAs = (gateway, id, key) => connectAndSend(
  gateway, `HostName=${HUB_HOST};DeviceId=${id};SharedAccessKey=${key};GatewayHostName=${GATEWAY_HOST}`);

describe('a child edgehubd takes its device scope from its parent edgehubd', () => {
  let parent; let child;
  before(async () => {
    // The parent knows the child gateway and the devices behind it; its server certificate also
    // names localhost, the name the child dials.
    parent = await startGateway({
      extraGateway: 'server_cert_extra_sans = ["localhost"]',
      identities: [
        '[[device]]', `id = "${CHILD}"`, 'edge_device = true', `primary_key = "${CHILD_KEY}"`,
        '[[device]]', `id = "${LEAF}"`, `parent = "${CHILD}"`, `primary_key = "${LEAF_KEY}"`,
        '[[device]]', `id = "${OTHER}"`, `primary_key = "${OTHER_KEY}"`,
      ].join('\n'),
    });
    // The child has no identities of its own; the parent's API is its IoT Hub.
    child = await startGateway({
      deviceId: CHILD,
      identities: '# none: the devices come from the parent\'s scope',
      trustAlso: [path.join(parent.dir, 'pki/certs/azure-iot-test-only.root.ca.cert.pem')],
      preamble: ['parent_hostname = "localhost"', '[provisioning]', 'source = "manual"',
                 `connection_string = "HostName=${HUB_HOST}:${parent.ports.https};DeviceId=${CHILD};SharedAccessKey=${CHILD_KEY}"`,
                 `edgehub_module_key = "${CHILD_EDGEHUB_KEY}"`].join('\n'),
      extraGateway: 'upstream_protocol = "amqpws"',
    });
    await waitFor(async () => metricValue(await child.metrics(), 'edgehubd_device_scope_sync_total',
                                          'result="ok"') >= 1, "the child's first sync", 20000);
  });
  after(async () => {
    if (child) assert.equal(await child.stop(), 0, child.log());
    if (parent) assert.equal(await parent.stop(), 0, parent.log());
  });

  test('the child authenticates a device of its scope that only the parent declares', TIMEOUT, async () => {
    await sendAs(child, LEAF, LEAF_KEY);
    const parentMetrics = await parent.metrics();
    assert.ok(metricValue(parentMetrics, 'edgehubd_http_requests_total', 'scope_devices_and_modules') >= 1,
              parentMetrics);
    assert.equal(metricValue(await child.metrics(), 'edgehubd_device_scope_identities'), 2);  // itself, the leaf
  });

  test('the parent authorises the child\'s scope calls with its $edgeHub token once it knows that key', TIMEOUT, async () => {
    const scopeCalls = async (status) => metricValue(await parent.metrics(), 'edgehubd_http_requests_total',
                                                     `route="scope_devices_and_modules",status="${status}"`);
    // Without the child's $edgeHub key the parent refuses that token and the child falls back to
    // its device credentials.
    assert.ok(await scopeCalls(401) >= 1);
    const refused = await scopeCalls(401);
    const answered = await scopeCalls(200);
    fs.appendFileSync(path.join(parent.dir, 'identities.toml'), ['', '[[module]]', `device = "${CHILD}"`,
                      'id = "$edgeHub"', `primary_key = "${CHILD_EDGEHUB_KEY}"`, ''].join('\n'));
    parent.child.kill('SIGHUP');
    await waitFor(() => parent.log().includes('configuration reloaded'), 'the parent\'s reload', 10000);
    child.child.kill('SIGHUP');  // a reload syncs the scope at once
    await waitFor(async () => await scopeCalls(200) > answered, 'the child\'s next sync', 20000);
    assert.equal(await scopeCalls(401), refused, 'the $edgeHub token was accepted the first time');
  });

  test('a device outside the child\'s scope is refused by the child', TIMEOUT, async () => {
    await assert.rejects(sendAs(child, OTHER, OTHER_KEY));
  });

  test('with the parent stopped, the restarted child still authenticates the device', TIMEOUT, async () => {
    assert.equal(await parent.stop(), 0, parent.log());
    parent = null;
    await child.restart();
    assert.match(child.log(), /device scope: 2 identities from the cache/);
    await sendAs(child, LEAF, LEAF_KEY);
    await waitFor(async () => metricValue(await child.metrics(), 'edgehubd_device_scope_sync_total',
                                          'result="unreachable"') >= 1, 'the failed sync counted', 20000);
  });
});
