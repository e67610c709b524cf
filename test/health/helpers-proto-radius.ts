// RADIUS peers for the radius monitor tests. FreeRADIUS: the Debian package's configuration
// copied into a temporary raddb, reduced to what PAP needs, with a client secret and users written
// by the test, listening on a free loopback port, in the foreground (-X) as a child of the test.

import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { retryPortClash, startPeer, type Peer } from './helpers-proto.ts';
import { atEnd } from '../helpers/cleanup.ts';
import { tempDir } from '../helpers/files.ts';
import { freePort } from '../helpers/ports.ts';

export interface FreeRadius {
  port: number;
  peer: Peer;
}

/** `users`: name -> Cleartext-Password. */
export async function startFreeRadius(secret: string, users: Record<string, string>): Promise<FreeRadius> {
  const dir = path.join(await tempDir('radius'), 'raddb');
  await cp('/etc/freeradius/3.0', dir, { recursive: true, verbatimSymlinks: true });

  // only the modules PAP needs (the packaged eap module wants certificates that are not generated)
  for (const name of await readdir(path.join(dir, 'mods-enabled'))) {
    if (name !== 'pap' && name !== 'files') await rm(path.join(dir, 'mods-enabled', name));
  }
  await rm(path.join(dir, 'sites-enabled'), { recursive: true });
  await mkdir(path.join(dir, 'sites-enabled'));
  const site = (port: number): Promise<void> => writeFile(
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
  );
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

  return retryPortClash(async () => {
    const port = await freePort();
    await site(port);
    const peer = startPeer('/usr/sbin/freeradius', ['-X', '-d', dir]);
    await peer.waitFor(/^Ready to process requests/m);
    return { port, peer };
  });
}

interface DecodedRadius {
  code: string;
  identifier: number;
  authenticator: Buffer;
  attributes: Record<string, unknown>;
  raw_attributes: [number, Buffer][];
}

interface RadiusLibrary {
  decode(args: { packet: Buffer; secret: string }): DecodedRadius;
  decode_without_secret(args: { packet: Buffer }): DecodedRadius;
  encode_response(args: { packet: DecodedRadius; code: string; secret: string }): Buffer;
}

const radius = createRequire(import.meta.url)('radius') as RadiusLibrary;

export interface RadiusResponder {
  port: number;
  /** each request as decoded with the responder's secret (null when that failed: another secret) */
  received: (DecodedRadius | null)[];
  close(): Promise<void>;
}

/**
 * A small RADIUS server on loopback (the `radius` package, independent of the monitor's code)
 * for what FreeRADIUS never does: answer signed with a secret other than the client's, with a
 * broken Message-Authenticator, a challenge to PAP, a truncated packet. `secret` is the one it signs with.
 */
export async function startRadiusResponder(
  secret: string,
  mode: 'accept' | 'challenge' | 'bad-message-authenticator' | 'truncated',
): Promise<RadiusResponder> {
  const socket = dgram.createSocket('udp4');
  const received: (DecodedRadius | null)[] = [];
  socket.on('message', (message, from) => {
    let request: DecodedRadius;
    try {
      request = radius.decode({ packet: message, secret });
      received.push(request);
    } catch {
      received.push(null);
      request = radius.decode_without_secret({ packet: message });
    }
    const code = mode === 'challenge' ? 'Access-Challenge' : 'Access-Accept';
    let response = radius.encode_response({ packet: request, code, secret });
    if (mode === 'truncated') response = response.subarray(0, response.length - 1); // Length says one more octet
    if (mode === 'bad-message-authenticator') {
      // flip a bit of the Message-Authenticator, then sign the packet correctly again
      const at = response.indexOf(Buffer.from([80, 18]), 20);
      response[at + 2] ^= 1;
      createHash('md5')
        .update(response.subarray(0, 4))
        .update(request.authenticator)
        .update(response.subarray(20))
        .update(secret)
        .digest()
        .copy(response, 4);
    }
    socket.send(response, from.port, from.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  const close = atEnd(async () => {
    socket.close();
    await once(socket, 'close');
  });
  return { port: socket.address().port, received, close };
}
