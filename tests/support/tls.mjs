// A throwaway certificate authority and a server certificate it signed, for https mock upstreams.
// The server certificate names DNS "localhost" and IP 127.0.0.1, so clients that verify the
// host name accept it at https://127.0.0.1:PORT and https://localhost:PORT alike.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

function openssl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const kKeyOptions = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

// Returns { dir, caCertPath, certPath, keyPath, caCert, cert, key } (PEM paths and contents).
export function createTestPki(dir = mkdtempSync(path.join(tmpdir(), 'dsgw-pki-'))) {
  openssl(['req', '-x509', ...kKeyOptions, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
    '-subj', '/CN=dsgw test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', ...kKeyOptions, '-keyout', 'server.key', '-out', 'server.csr',
    '-subj', '/CN=localhost'], dir);
  writeFileSync(path.join(dir, 'server.ext'), [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '',
  ].join('\n'));
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key',
    '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext'], dir);

  const caCertPath = path.join(dir, 'ca.pem');
  const certPath = path.join(dir, 'server.pem');
  const keyPath = path.join(dir, 'server.key');
  return {
    dir,
    caCertPath,
    certPath,
    keyPath,
    caCert: readFileSync(caCertPath),
    cert: readFileSync(certPath),
    key: readFileSync(keyPath),
  };
}
