// A state change is emitted from timers, check results and API handlers: a listener that throws
// neither escapes into the emitter's caller nor keeps the listeners after it from hearing.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { RuntimeEvents } from '../../src/runtime/events.ts';

it('a listener that throws is reported, and every other listener is still told', () => {
  const events = new RuntimeEvents();
  const failed: [unknown, string][] = [];
  events.listenerFailed = (err, event) => failed.push([err, event]);
  const heard: string[] = [];
  events.on('reload', () => {
    throw new Error('broken handler');
  });
  events.on('reload', (summary) => heard.push(`on ${summary}`));
  events.once('reload', (summary) => heard.push(`once ${summary}`));
  assert.equal(events.emit('reload', 'first'), true);
  assert.equal(events.emit('reload', 'second'), true);
  assert.deepEqual(heard, ['on first', 'once first', 'on second']);
  assert.deepEqual(failed.map(([err, event]) => `${event}: ${(err as Error).message}`), ['reload: broken handler', 'reload: broken handler']);
  assert.equal(new RuntimeEvents().emit('reload', 'nobody'), false);
});
