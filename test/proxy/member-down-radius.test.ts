// A RADIUS client on one fixed source port, through a udp service onto two FreeRADIUS servers
// watched by a radius monitor: when its server dies, the monitor marks it down and the client's
// next retransmission gets its Access-Accept from the other (on-member-down: reselect, the udp
// default). Before, the flow stayed on the dead server for as long as the client kept sending.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import type { RadiusMonitor } from '../../src/config/health-types.ts';
import { memberHealth, startApp } from '../helpers/app.ts';
import { atEnd } from '../helpers/cleanup.ts';
import { pool, single } from '../helpers/config.ts';
import { COMMON } from '../health/helpers-proto.ts';
import { startFreeRadius } from '../health/helpers-proto-radius.ts';

const SECRET = 'furiwake-test-secret';
const PASSWORD = 'user pass';

interface RadiusCodec {
  encode(args: { code: string; secret: string; identifier: number; attributes: [string, string][] }): Buffer;
  decode(args: { packet: Buffer; secret: string }): { code: string; identifier: number };
}
const radius = createRequire(import.meta.url)('radius') as RadiusCodec;

/** A NAS on one source port: each authenticate() sends an Access-Request and retransmits it every `every` ms until answered. */
async function nas(port: number, every: number): Promise<{ authenticate(): Promise<string> }> {
  const socket = dgram.createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  atEnd(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  let identifier = 0;
  return {
    async authenticate(): Promise<string> {
      identifier = (identifier + 1) & 0xff;
      const id = identifier;
      const packet = radius.encode({ code: 'Access-Request', secret: SECRET, identifier: id, attributes: [['User-Name', 'user'], ['User-Password', PASSWORD]] });
      return new Promise((resolve) => {
        const send = (): void => socket.send(packet, port, '127.0.0.1');
        const timer = setInterval(send, every); // a NAS's retransmission, as radclient -r does
        const onMessage = (msg: Buffer): void => {
          const reply = radius.decode({ packet: msg, secret: SECRET });
          if (reply.identifier !== id) return; // an answer to an earlier retransmission
          clearInterval(timer);
          socket.off('message', onMessage);
          resolve(reply.code);
        };
        socket.on('message', onMessage);
        send();
      });
    },
  };
}

describe('a RADIUS client on a fixed port whose server dies', { timeout: 60_000 }, () => {
  it('gets its Access-Accept from the other server once the monitor marks the dead one down', async () => {
    const servers = [await startFreeRadius(SECRET, { user: PASSWORD }), await startFreeRadius(SECRET, { user: PASSWORD })];
    atEnd(() => Promise.all(servers.map((s) => s.peer.stop())));
    const monitor: RadiusMonitor = {
      type: 'radius', ...COMMON, interval: 200, fastInterval: 100, timeout: 300,
      secret: SECRET, username: 'user', password: PASSWORD, nasIdentifier: 'furiwake', expect: 'accept',
    };
    const app = await startApp(single('udp', pool('round-robin', [{ port: servers[0].port, id: 'a' }, { port: servers[1].port, id: 'b' }], {}, {
      health: { require: { kind: 'all' }, monitors: [monitor], agent: null, initialState: 'up' },
    })));
    const client = await nas(app.address('svc').port, 200);
    const flowMember = (): string | undefined => [...app.runtime.connections.list()][0]?.member?.id;

    for (let i = 0; i < 3; i++) assert.equal(await client.authenticate(), 'Access-Accept');
    assert.equal(flowMember(), 'a');

    await servers[0].peer.stop();
    await memberHealth(app, 'p', 'a', 'down');
    for (let i = 0; i < 3; i++) assert.equal(await client.authenticate(), 'Access-Accept');
    assert.equal(flowMember(), 'b');
    assert.equal(app.runtime.connections.size, 1);
  });
});
