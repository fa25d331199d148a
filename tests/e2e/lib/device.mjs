// A device that connects through the gateway, sends one message and closes: the check the
// authentication tests make of whether the gateway accepts an identity.
import deviceSdk from 'azure-iot-device';
import mqttSdk from 'azure-iot-device-mqtt';

const { Client, Message } = deviceSdk;

/** Opens an MQTT SDK device with `connectionString` and sends one message; rejects when the
 *  gateway refuses it. */
export async function connectAndSend(gateway, connectionString) {
  const client = Client.fromConnectionString(connectionString, mqttSdk.Mqtt);
  await client.setOptions({ ca: gateway.ca });
  try {
    await client.open();
    await client.sendEvent(new Message(JSON.stringify({ from: connectionString.match(/DeviceId=([^;]+)/)[1] })));
  } finally {
    await client.close().catch(() => {});
  }
}
