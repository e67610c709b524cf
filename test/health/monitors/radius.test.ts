// radius monitor against a real FreeRADIUS started by the test (a client secret and a test user
// written by the test), and against a small RADIUS responder for answers FreeRADIUS never gives.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RadiusMonitor } from '../../../src/config/health-types.ts';
import type { CheckResult } from '../../../src/health/monitor.ts';
import { createRadiusMonitor } from '../../../src/health/monitors/radius.ts';
import { COMMON, loopback } from '../helpers-proto.ts';
import { startFreeRadius, startRadiusResponder, type FreeRadius } from '../helpers-proto-radius.ts';
import { freePort } from '../../helpers/ports.ts';

const SECRET = 'furiwake-test-secret';
const PASSWORD = 'probe pass #1';

function radiusConfig(fields: Partial<RadiusMonitor>): RadiusMonitor {
  return {
    type: 'radius',
    ...COMMON,
    secret: SECRET,
    username: 'probe',
    password: PASSWORD,
    nasIdentifier: 'furiwake-test',
    expect: 'accept',
    ...fields,
  };
}

function check(port: number, fields: Partial<RadiusMonitor>, signal = new AbortController().signal): Promise<CheckResult> {
  return createRadiusMonitor(radiusConfig(fields)).run(loopback(port), signal);
}

describe('radius monitor against FreeRADIUS', { timeout: 60_000 }, () => {
  let server: FreeRadius;
  after(() => server?.peer.stop());

  before(async () => {
    server = await startFreeRadius(SECRET, { probe: PASSWORD });
  });

  it('is up on Access-Accept for the right password', async () => {
    assert.deepEqual(await check(server.port, {}), { up: true, reason: 'RADIUS Access-Accept' });
    // what FreeRADIUS received and did (its -X log; the pipe may lag behind the UDP answer)
    await server.peer.waitFor(/Received Access-Request Id \d+ from 127\.0\.0\.1:\d+ to 127\.0\.0\.1:\d+/);
    await server.peer.waitFor(/Message-Authenticator = 0x[0-9a-f]{32}/);
    await server.peer.waitFor(/User-Name = "probe"/);
    await server.peer.waitFor(/NAS-Identifier = "furiwake-test"/);
    await server.peer.waitFor(/NAS-IP-Address = 127\.0\.0\.1/);
    await server.peer.waitFor(/pap: User authenticated successfully/);
    await server.peer.waitFor(/Sent Access-Accept Id \d+/);
  });

  it('is down on Access-Reject for a wrong password', async () => {
    assert.deepEqual(await check(server.port, { password: 'wrong' }), { up: false, reason: 'RADIUS Access-Reject' });
  });

  it('is up on Access-Reject when any signed answer will do (expect: any)', async () => {
    assert.deepEqual(await check(server.port, { password: 'wrong', expect: 'any' }), { up: true, reason: 'RADIUS Access-Reject (server alive)' });
  });

  it('gets no answer with a wrong secret: FreeRADIUS drops a request whose Message-Authenticator does not verify', async () => {
    const controller = new AbortController();
    const result = check(server.port, { secret: 'not-the-secret' }, controller.signal);
    await server.peer.waitFor(/invalid Message-Authenticator! +\(Shared secret is incorrect\.\)/);
    // it sends nothing back: only the scheduler's timeout ends such a check
    controller.abort();
    assert.deepEqual(await result, { up: false, reason: 'aborted' });
  });
});

describe('radius monitor against a responder with its own secret', () => {
  it('is down with "response authenticator mismatch" when the answer is signed with another secret', async () => {
    const responder = await startRadiusResponder('another-secret', 'accept');
    after(() => responder.close());
    assert.deepEqual(await check(responder.port, {}), { up: false, reason: 'RADIUS response authenticator mismatch (wrong secret?)' });
    assert.deepEqual(responder.received, [null], 'the responder could not verify our request either');
  });

  it('verifies the Message-Authenticator of an answer that has one', async () => {
    const good = await startRadiusResponder(SECRET, 'accept');
    after(() => good.close());
    assert.deepEqual(await check(good.port, {}), { up: true, reason: 'RADIUS Access-Accept' });
    // an independent decoder verified our Message-Authenticator and decrypted our PAP password
    assert.equal(good.received.length, 1);
    assert.equal(good.received[0]?.attributes['User-Password'], PASSWORD);
    assert.equal(good.received[0]?.attributes['NAS-Identifier'], 'furiwake-test');

    const bad = await startRadiusResponder(SECRET, 'bad-message-authenticator');
    after(() => bad.close());
    assert.deepEqual(await check(bad.port, {}), { up: false, reason: 'RADIUS Message-Authenticator mismatch (wrong secret?)' });
  });

  it('is down on Access-Challenge, unless any signed answer will do', async () => {
    const responder = await startRadiusResponder(SECRET, 'challenge');
    after(() => responder.close());
    assert.deepEqual(await check(responder.port, {}), { up: false, reason: 'RADIUS Access-Challenge' });
    assert.deepEqual(await check(responder.port, { expect: 'any' }), { up: true, reason: 'RADIUS Access-Challenge (server alive)' });
  });

  it('is down with "malformed RADIUS response" when the packet is shorter than its Length', async () => {
    const responder = await startRadiusResponder(SECRET, 'truncated');
    after(() => responder.close());
    assert.deepEqual(await check(responder.port, {}), { up: false, reason: 'malformed RADIUS response: Length 38 is past the end of the datagram (37 bytes)' });
  });

  it('is down with "ICMP port unreachable" where nothing listens', async () => {
    assert.deepEqual(await check(await freePort(), {}), { up: false, reason: 'ICMP port unreachable' });
  });
});
