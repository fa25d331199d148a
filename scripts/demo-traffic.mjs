// make demo's sample traffic: a simulated device (sensor-1) sends a temperature every two seconds
// with the Azure IoT device SDK over MQTT, and a sample module (filter) prints what the route
// `WHERE $body.temp > 30 INTO BrokeredEndpoint("/modules/filter/inputs/hot")` delivers to it.
// Usage: node scripts/demo-traffic.mjs DEMO_DIR MQTT_PORT
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

const [demoDir, mqttPort] = process.argv.slice(2);
// The SDK comes from the end-to-end tests' pinned dependencies (npm ci by install-deps.sh).
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../tests/e2e/package.json'));
const { Client, ModuleClient, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

// The SDK always dials 8883; send it to the demo's port when that is not 8883.
const connect = tls.connect;
tls.connect = (options, ...rest) => {
  if (options && options.port === 8883) options = { ...options, port: Number(mqttPort) };
  return connect.call(tls, options, ...rest);
};

const strings = fs.readFileSync(path.join(demoDir, 'connection-strings.txt'), 'utf8').split('\n');
const deviceCs = strings.find((l) => l.includes('DeviceId=sensor-1;'));
const moduleCs = strings.find((l) => l.includes('ModuleId=filter;'));
const ca = fs.readFileSync(path.join(demoDir, 'pki/certs/azure-iot-test-only.root.ca.cert.pem'), 'utf8');

const module = ModuleClient.fromConnectionString(moduleCs, Mqtt);
await module.setOptions({ ca });
module.on('inputMessage', (input, msg) => {
  console.log(`[module filter] input "${input}" received ${msg.data.toString()} from ${msg.properties.getValue('sensor') ?? 'a device'}`);
  module.complete(msg, () => {});
});
await module.open();
console.log('[module filter] connected, listening on its inputs');

const device = Client.fromConnectionString(deviceCs, Mqtt);
await device.setOptions({ ca });
await device.open();
console.log('[device sensor-1] connected; sending a temperature every 2 s (above 30 is routed to filter)');
let n = 0;
setInterval(async () => {
  const temp = Math.round(20 + Math.random() * 20);
  const msg = new Message(JSON.stringify({ temp, n: n++ }));
  msg.contentType = 'application/json';
  msg.contentEncoding = 'utf-8';
  msg.properties.add('sensor', 'sensor-1');
  try {
    await device.sendEvent(msg);
    console.log(`[device sensor-1] sent temp=${temp} (acknowledged: stored durably)`);
  } catch (err) {
    console.log(`[device sensor-1] send failed: ${err.message}`);
  }
}, 2000);
