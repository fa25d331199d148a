// A TLS server certificate for the IoT Hub stand-in, signed by a test root (the gateway's demo
// PKI root from `edgehubctl certs demo`), so the SDK or edgehubd trusts it through that root.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Writes a P-256 key and a certificate naming `names` (DNS names; 127.0.0.1 is always added)
 * into `dir`, signed by `rootCert`/`rootKey` (PEM file paths). Returns { key, cert } as PEM text.
 */
export function signServerCertificate({ dir, rootCert, rootKey, names }) {
  fs.mkdirSync(dir, { recursive: true });
  const at = (file) => path.join(dir, file);
  const altNames = [...names.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',');
  fs.writeFileSync(at('hub-standin.ext'), `subjectAltName=${altNames}\nextendedKeyUsage=serverAuth\n`);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                           '-keyout', at('hub-standin.key'), '-subj', `/CN=${names[0]}`, '-out', at('hub-standin.csr')],
               { stdio: 'ignore' });
  execFileSync('openssl', ['x509', '-req', '-in', at('hub-standin.csr'), '-CA', rootCert, '-CAkey', rootKey,
                           '-CAcreateserial', '-CAserial', at('hub-standin.srl'), '-days', '2',
                           '-extfile', at('hub-standin.ext'), '-out', at('hub-standin.pem')], { stdio: 'ignore' });
  return { key: fs.readFileSync(at('hub-standin.key'), 'utf8'), cert: fs.readFileSync(at('hub-standin.pem'), 'utf8') };
}
