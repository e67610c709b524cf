// The per-message tables of `balance-per` follow the service's max-flows: RADIUS requests and
// States, SIP dialogs hold at most that many entries (the oldest going first), and a change of
// max-flows (a reload) applies from the next entry.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Member } from '../../src/runtime/member.ts';
import { RadiusRequests } from '../../src/proxy/udp-radius.ts';
import { SipDialogs } from '../../src/proxy/udp-sip.ts';
import { ExpiringTable } from '../../src/proxy/udp-table.ts';
import { member } from '../helpers/config.ts';

const events = { emit: () => true };
const a = new Member('p', member({ port: 1, id: 'a' }), events);

function request(identifier: number, authenticator = 7): Buffer {
  const packet = Buffer.alloc(20);
  packet[0] = 1; // Access-Request
  packet[1] = identifier;
  packet.writeUInt16BE(20, 2);
  packet.fill(authenticator, 4, 20);
  return packet;
}

function sip(callId: string): Buffer {
  return Buffer.from(`INVITE sip:x SIP/2.0\r\nCall-ID: ${callId}\r\n\r\n`);
}

describe('balance-per tables', () => {
  it('an expiring table holds at most max entries, the oldest going first; a new max applies at the next insert', () => {
    let max = 2;
    const table = new ExpiringTable<number>(60_000, () => max);
    table.set('x', 1, 0);
    table.set('y', 2, 0);
    table.set('z', 3, 0);
    assert.equal(table.size, 2);
    assert.equal(table.get('x', 1), undefined);
    assert.equal(table.get('z', 1), 3);
    max = 1;
    table.set('w', 4, 0);
    assert.equal(table.size, 1);
    assert.equal(table.get('w', 1), 4);
    assert.equal(table.get('w', 60_000), undefined, 'expired');
  });

  it('RADIUS: a retransmit keeps its member while the request is among the last max-flows', () => {
    const radius = new RadiusRequests(() => 2);
    for (const id of [1, 2, 3]) {
      assert.equal(radius.pinned(request(id), 'c:1'), null);
      radius.sent(a);
    }
    assert.equal(radius.pinned(request(3), 'c:1'), a, 'kept');
    assert.equal(radius.pinned(request(1), 'c:1'), null, 'gone: the table holds 2');
    assert.equal(radius.awaits, 'c:1#1');
  });

  it('SIP: a dialog stays on its member while it is among the last max-flows', () => {
    const dialogs = new SipDialogs(() => 2);
    for (const id of ['d1', 'd2', 'd3']) {
      assert.equal(dialogs.pinned(sip(id), 'c:1'), null);
      dialogs.sent(a);
    }
    assert.equal(dialogs.pinned(sip('d3'), 'c:1'), a);
    assert.equal(dialogs.pinned(sip('d1'), 'c:1'), null);
    assert.equal(dialogs.awaits, 'c:1#d1', 'an INVITE awaits a reply');
    assert.equal(dialogs.pinned(Buffer.from('ACK sip:x SIP/2.0\r\nCall-ID: d3\r\n\r\n'), 'c:1'), a);
    assert.equal(dialogs.awaits, '', 'an ACK awaits none');
  });
});
