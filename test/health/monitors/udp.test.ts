// The udp monitor against real loopback sockets: an echo, a silent listener, and ports where
// nobody listens (the kernel answers ICMP port unreachable on loopback).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { UdpMonitor } from '../../../src/config/health-types.ts';
import { createUdpMonitor } from '../../../src/health/monitors/udp.ts';
import { COMMON, never, target, udpPeer } from '../helpers-basic.ts';
import { checkHandles } from '../../helpers/handles.ts';
import { freePort } from '../../helpers/ports.ts';

function udp(expect: UdpMonitor['expect'], send = 'PING'): UdpMonitor {
  return { ...COMMON, type: 'udp', send: Buffer.from(send), expect };
}

const echo = () => udpPeer((msg) => Buffer.concat([Buffer.from('echo:'), msg]));
const silent = () => udpPeer(() => null);

checkHandles();

describe('udp monitor: replies', () => {
  test('expect any: a reply makes it up, and the server got the payload', async () => {
    const peer = await echo();
    const result = await createUdpMonitor(udp('any')).run(target(peer.port), never());
    assert.deepEqual(result, { up: true, reason: 'reply received' });
    assert.equal(peer.received[0].toString(), 'PING');
    await peer.close();
  });

  test('a matching reply: up', async () => {
    const peer = await echo();
    const result = await createUdpMonitor(udp({ kind: 'string', value: 'echo:PING' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: true, reason: 'reply matched "echo:PING"' });
    await peer.close();
  });

  test('a matching reply by hex: up', async () => {
    const peer = await echo();
    const monitor = createUdpMonitor(udp({ kind: 'hex', value: '3a50494e47' }));
    assert.deepEqual(await monitor.run(target(peer.port), never()), { up: true, reason: 'reply matched hex 3a50494e47' });
    await peer.close();
  });

  test('a reply that does not match: down', async () => {
    const peer = await echo();
    const result = await createUdpMonitor(udp({ kind: 'regex', value: '^PONG' })).run(target(peer.port), never());
    assert.deepEqual(result, { up: false, reason: 'reply did not match /^PONG/' });
    await peer.close();
  });

  test('a silent listener: the abort settles the check', async () => {
    const peer = await silent();
    const controller = new AbortController();
    const check = createUdpMonitor(udp('any')).run(target(peer.port), controller.signal);
    await peer.datagram(1);
    controller.abort();
    assert.equal((await check).up, false);
    await peer.close();
  });

  test('no listener, expect any: down, ICMP port unreachable', async () => {
    const port = await freePort();
    const result = await createUdpMonitor(udp('any')).run(target(port), never());
    assert.deepEqual(result, { up: false, reason: 'ICMP port unreachable' });
  });
});

describe('udp monitor: expect no-unreachable', () => {
  test('tells the scheduler that its pass comes at the timeout', () => {
    assert.equal(createUdpMonitor(udp('no-unreachable')).passesOnTimeout, true);
    assert.equal(createUdpMonitor(udp('any')).passesOnTimeout, undefined);
  });

  test('a port with no listener: down, ICMP port unreachable (without waiting for the timeout)', async () => {
    const port = await freePort();
    const result = await createUdpMonitor(udp('no-unreachable')).run(target(port), never());
    assert.deepEqual(result, { up: false, reason: 'ICMP port unreachable' });
  });

  test('an open port that never answers: up at the abort', async () => {
    const peer = await silent();
    const controller = new AbortController();
    const check = createUdpMonitor(udp('no-unreachable')).run(target(peer.port), controller.signal);
    await peer.datagram(1); // it arrived, so no ICMP error will come back
    controller.abort();
    assert.deepEqual(await check, { up: true, reason: 'no ICMP port unreachable' });
    await peer.close();
  });

  test('an open port that answers: up at once', async () => {
    const peer = await echo();
    const result = await createUdpMonitor(udp('no-unreachable')).run(target(peer.port), never());
    assert.deepEqual(result, { up: true, reason: 'reply received' });
    await peer.close();
  });

  test('an already aborted signal: settles at once, nothing sent', async () => {
    const peer = await silent();
    const controller = new AbortController();
    controller.abort();
    const result = await createUdpMonitor(udp('any')).run(target(peer.port), controller.signal);
    assert.equal(result.up, false);
    assert.equal(peer.received.length, 0);
    await peer.close();
  });

  test('aborted right after it started: settles, the socket closed', async () => {
    const peer = await silent();
    const controller = new AbortController();
    const check = createUdpMonitor(udp('any')).run(target(peer.port), controller.signal);
    controller.abort();
    assert.equal((await check).up, false);
    await peer.close();
  });
});
