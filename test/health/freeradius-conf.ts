// A FreeRADIUS configuration of its own for a test or a bench: the Debian package's raddb copied
// into `dir`, reduced to what PAP needs, with one client (127.0.0.1 and `secret`), the given users,
// and one auth listener on 127.0.0.1. Run it with `freeradius -X -d <dir>` (or -f for no debug).
// No node:test here: bench/member-failure.ts uses it too.

import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Writes the raddb in `dir`; call `listenOn(port)` before each start to choose the port. `users`: name -> Cleartext-Password. */
export async function freeRadiusConf(dir: string, secret: string, users: Record<string, string>): Promise<{ listenOn(port: number): Promise<void> }> {
  await cp('/etc/freeradius/3.0', dir, { recursive: true, verbatimSymlinks: true });

  // only the modules PAP needs (the packaged eap module wants certificates that are not generated)
  for (const name of await readdir(path.join(dir, 'mods-enabled'))) {
    if (name !== 'pap' && name !== 'files') await rm(path.join(dir, 'mods-enabled', name));
  }
  await rm(path.join(dir, 'sites-enabled'), { recursive: true });
  await mkdir(path.join(dir, 'sites-enabled'));
  await writeFile(path.join(dir, 'clients.conf'), `client furiwake-test {\n\tipaddr = 127.0.0.1\n\tsecret = "${secret}"\n}\n`);
  await writeFile(
    path.join(dir, 'mods-config', 'files', 'authorize'),
    Object.entries(users).map(([user, password]) => `${user}\tCleartext-Password := "${password}"\n`).join(''),
  );

  const conf = path.join(dir, 'radiusd.conf');
  const text = (await readFile(conf, 'utf8'))
    .replace(/^raddbdir = .*$/m, `raddbdir = ${dir}`)
    .replace(/^logdir = .*$/m, `logdir = ${dir}/log`)
    .replace(/^run_dir = .*$/m, `run_dir = ${dir}/run`)
    // run as root (the test's user): no switch to the freerad user, who cannot read the temp dir
    .replace(/^\s*user = freerad$/m, '')
    .replace(/^\s*group = freerad$/m, '')
    // no proxy listener on all addresses
    .replace(/^proxy_requests\s*=\s*yes$/m, 'proxy_requests = no')
    // the default delays every Access-Reject by 1 s
    .replace(/^\s*reject_delay = 1$/m, '\treject_delay = 0');
  await writeFile(conf, text);
  await mkdir(path.join(dir, 'log'));
  await mkdir(path.join(dir, 'run'));

  return {
    listenOn: (port) => writeFile(
      path.join(dir, 'sites-enabled', 'furiwake-test'),
      `server default {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = ${port}
	}
	authorize {
		files
		pap
	}
	authenticate {
		pap
	}
}
`,
    ),
  };
}
