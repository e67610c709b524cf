// The request clock adds up only the waits it saw begin, each once.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RequestClock } from '../../../src/proxy/http/request-clock.ts';

describe('request clock', () => {
  it('counts no wait that did not begin', () => {
    const t = new RequestClock().stop();
    assert.deepEqual([t.queue, t.connect, t.firstByte], [0, 0, 0]);
  });

  it('adds each wait once, however often its end is told, and adds the attempts up', () => {
    const clock = new RequestClock();
    clock.connectStarted();
    clock.connectEnded();
    const first = clock.connect;
    clock.connectEnded(); // a second end without a start adds nothing
    assert.equal(clock.connect, first);
    clock.connectStarted(); // a second attempt adds to the first
    const t = clock.stop(); // still running at the end: it ends there
    assert.ok(t.connect >= first && t.queue === 0);
  });

  it('times the first byte from the start', () => {
    const clock = new RequestClock();
    clock.firstByteCame();
    assert.ok(clock.firstByte >= 0 && clock.firstByte <= performance.now() - clock.start);
  });
});
