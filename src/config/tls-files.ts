// The files an http service names — certificates and keys for TLS termination, a CA bundle for
// TLS to members — are read when the config is loaded, like hostnames are resolved: a missing
// file, a key that does not belong to its certificate or a certificate that is not PEM stops
// the load with its path, and a reload reads them again (certificate renewal is a SIGHUP).
// An https monitor's ca, cert and key are checked the same way and their paths made absolute
// (the monitor reads them when it starts), as is a script monitor's command. Relative paths are taken from the config file's
// directory, whatever the working directory of `validate` or `start`.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { MonitorConfig } from './health-types.ts';
import type { TlsCertificateConfig } from './http-types.ts';
import type { PathIssue, PathSegment } from './issues.ts';
import type { Config } from './types.ts';

/**
 * `config` with every http file read (PEM contents and certificate names filled in), or what went
 * wrong. It fills in the config it is given (loadConfig's own, fresh from the parse): a copy of
 * 10,000 members cost a reload 30 ms.
 */
export async function loadTlsFiles(config: Config, baseDir: string): Promise<{ config: Config; issues: PathIssue[] }> {
  const loaded = config;
  const issues: PathIssue[] = [];
  for (const [name, service] of Object.entries(loaded.services)) {
    const http = service.http;
    if (http === null) continue;
    const at: PathSegment[] = ['services', name];
    if (http.tls !== null) {
      for (const [i, cert] of http.tls.certificates.entries()) {
        issues.push(...(await loadCertificate(cert, baseDir, [...at, 'tls', 'certificates', i])));
      }
    }
    const memberTls = http.memberTls;
    if (memberTls?.caFile != null) {
      const ca = await readPem(memberTls.caFile, baseDir, [...at, 'member-tls', 'ca'], issues);
      if (ca !== null) {
        memberTls.ca = ca;
        memberTls.caFile = resolve(baseDir, memberTls.caFile);
      }
    }
  }
  for (const [name, pool] of Object.entries(loaded.pools)) {
    issues.push(...(await loadMonitorFiles(pool.health.monitors, baseDir, ['pools', name, 'health', 'monitors'])));
    for (const [i, member] of pool.members.entries()) {
      const own = member.health?.monitors;
      if (own != null) issues.push(...(await loadMonitorFiles(own, baseDir, ['pools', name, 'members', i, 'health', 'monitors'])));
    }
  }
  return { config: loaded, issues };
}

/** The PEM files of https and grpc monitors: readable, PEM, and named by their absolute path from here on; a script's path made absolute. */
async function loadMonitorFiles(monitors: MonitorConfig[], baseDir: string, at: PathSegment[]): Promise<PathIssue[]> {
  const issues: PathIssue[] = [];
  for (const [i, monitor] of monitors.entries()) {
    // a script given by a relative path (./check, bin/check) runs from the config file's
    // directory too; a bare name is looked up on PATH, as a shell would
    if (monitor.type === 'script' && monitor.command.includes('/')) monitor.command = resolve(baseDir, monitor.command);
    const tls = monitor.type === 'https' || monitor.type === 'grpc' ? monitor.tls : null;
    if (tls === null) continue;
    for (const what of ['ca', 'cert', 'key'] as const) {
      const file = tls[what];
      if (file !== null && (await readPem(file, baseDir, [...at, i, what], issues)) !== null) tls[what] = resolve(baseDir, file);
    }
  }
  return issues;
}

async function loadCertificate(c: TlsCertificateConfig, baseDir: string, path: PathSegment[]): Promise<PathIssue[]> {
  const issues: PathIssue[] = [];
  const cert = await readPem(c.certFile, baseDir, [...path, 'cert'], issues);
  const key = await readPem(c.keyFile, baseDir, [...path, 'key'], issues);
  if (cert === null || key === null) return issues;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    return [{ path: [...path, 'cert'], message: `not a PEM certificate: ${(err as Error).message}` }];
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) {
      return [{ path: [...path, 'key'], message: `this key does not belong to the certificate in ${c.certFile}` }];
    }
  } catch (err) {
    return [{ path: [...path, 'key'], message: `not a PEM private key: ${(err as Error).message}` }];
  }
  c.cert = cert;
  c.key = key;
  c.certFile = resolve(baseDir, c.certFile);
  c.keyFile = resolve(baseDir, c.keyFile);
  if (c.names.length === 0) c.names = certificateNames(x509);
  return [];
}

/** The DNS names a certificate is for: its subjectAltName DNS entries, else its CN. */
function certificateNames(x509: X509Certificate): string[] {
  const alt = x509.subjectAltName;
  if (alt !== undefined) {
    const names = alt.split(', ').filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4).toLowerCase());
    if (names.length > 0) return names;
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject);
  return cn === null ? [] : [cn[1].toLowerCase()];
}

async function readPem(file: string, baseDir: string, path: PathSegment[], issues: PathIssue[]): Promise<string | null> {
  try {
    const text = await readFile(resolve(baseDir, file), 'utf8');
    if (!text.includes('-----BEGIN ')) {
      issues.push({ path, message: `${file} holds no PEM block (-----BEGIN ...)` });
      return null;
    }
    return text;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    issues.push({ path, message: `cannot read ${file}: ${why}` });
    return null;
  }
}
