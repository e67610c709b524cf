// How `furiwake ctl status` prints the datagrams a udp service dropped (the DROPPED column).

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { dropped } from '../../src/cli/ctl-format.ts';

it('prints udp drops as a total with its reasons, 0 when none, - for services that drop nothing themselves', () => {
  assert.equal(dropped(null), '-');
  assert.equal(dropped({ malformed: 0, unmatched: 0, noMember: 0 }), '0');
  assert.equal(dropped({ malformed: 3, unmatched: 1, noMember: 9 }), '13 (3 malformed, 1 unmatched, 9 no member)');
  assert.equal(dropped({ malformed: 3, unmatched: 1, noMember: 9, denied: 2 }), '15 (3 malformed, 1 unmatched, 9 no member, 2 denied)');
});
