// Certificates made by the tests with openssl, in a temp dir removed when the file's tests end:
// self-signed ones for names (what an https service presents), and a small CA with a server
// certificate it signed (what a member presents when furiwake speaks TLS to it).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

export interface CertFiles {
  cert: string;
  key: string;
  /** file contents */
  certPem: string;
  keyPem: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A temp dir for certificate files, removed after the test file. */
export function certDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'furiwake-certs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function files(dir: string, name: string): CertFiles {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}.key`);
  return { cert, key, certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

/** A self-signed certificate for `names` (the first is also the CN). */
export function selfSigned(dir: string, file: string, names: string[]): CertFiles {
  execFileSync('openssl', ['req', '-x509', ...EC, '-keyout', join(dir, `${file}.key`), '-out', join(dir, `${file}.pem`), '-days', '2',
    '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`], { stdio: 'ignore' });
  return files(dir, file);
}

/** A CA, and a server certificate it signed for `altNames` (e.g. DNS:member.test, IP:127.0.0.1). */
export function caSigned(dir: string, altNames: string[]): { ca: CertFiles; server: CertFiles } {
  execFileSync('openssl', ['req', '-x509', ...EC, '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.pem'), '-days', '2',
    '-subj', '/CN=furiwake test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', ...EC, '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr'), '-subj', '/CN=member'], { stdio: 'ignore' });
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, `subjectAltName=${altNames.join(',')}\n`);
  execFileSync('openssl', ['x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(dir, 'ca.pem'), '-CAkey', join(dir, 'ca.key'),
    '-CAcreateserial', '-out', join(dir, 'server.pem'), '-days', '2', '-extfile', ext], { stdio: 'ignore' });
  return { ca: files(dir, 'ca'), server: files(dir, 'server') };
}
