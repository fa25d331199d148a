// What every test of an upstream needs besides the gateway itself: the [provisioning] that points
// edgehubd at the IoT Hub stand-in (or a parent gateway) on 127.0.0.1, and a TLS certificate for
// the stand-in that the gateway trusts (signed by the gateway's own demo root).
import path from 'node:path';

import { EDGE_DEVICE, HUB_HOST } from './gateway.mjs';
import { signServerCertificate } from './hub_standin.mjs';

/**
 * The top-level keys and [provisioning] table for startGateway's `preamble`: the gateway dials
 * "localhost":`port` as its parent host name while tokens and AMQP OPEN name the hub, as behind a
 * parent gateway. `edgehubKey` (the $edgeHub module's key) is left out when not given.
 */
export function provisioning({ port, deviceKey, deviceId = EDGE_DEVICE, edgehubKey }) {
  return ['parent_hostname = "localhost"', '[provisioning]', 'source = "manual"',
          `connection_string = "HostName=${HUB_HOST}:${port};DeviceId=${deviceId};SharedAccessKey=${deviceKey}"`,
          ...(edgehubKey ? [`edgehub_module_key = "${edgehubKey}"`] : [])].join('\n');
}

/** A certificate and key for the hub's names (and localhost), from `gateway`'s demo root CA. */
export function hubCertificateFrom(gateway) {
  const pki = path.join(gateway.dir, 'pki');
  const { key, cert } = signServerCertificate({
    dir: path.join(gateway.dir, 'hub'), names: [HUB_HOST, 'localhost'],
    rootCert: path.join(pki, 'certs/azure-iot-test-only.root.ca.cert.pem'),
    rootKey: path.join(pki, 'private/azure-iot-test-only.root.ca.key.pem') });
  return { tlsKey: key, tlsCert: cert };
}
