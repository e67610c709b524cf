// Which stream engine the tcp plane runs on, and the handles engine's own edges.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handleEngine } from '../../src/proxy/handle-stream.ts';
import { streamEngine } from '../../src/proxy/stream-engine.ts';

describe('stream engine choice', () => {
  it('runs on Node 24\'s stream handles by default, and on net.Socket when asked', () => {
    assert.notEqual(handleEngine, null, 'this Node has the TCP stream handles');
    assert.equal(streamEngine(undefined).name, 'handles');
    assert.equal(streamEngine('auto').name, 'handles');
    assert.equal(streamEngine('handles').name, 'handles');
    assert.equal(streamEngine('sockets').name, 'sockets');
  });

  it('refuses an unknown engine by name', () => {
    assert.throws(() => streamEngine('epoll'), /FURIWAKE_TCP_ENGINE: expected auto, handles or sockets, got "epoll"/);
  });

  for (const name of ['handles', 'sockets']) {
    it(`${name}: a taken address is an error naming EADDRINUSE, and nothing stays open`, async () => {
      const engine = streamEngine(name);
      const first = await engine.listen('127.0.0.1', 0, 16, () => {}, () => {});
      const { port } = first.address();
      await assert.rejects(engine.listen('127.0.0.1', port, 16, () => {}, () => {}), /EADDRINUSE/);
      first.close();
    });
  }
});
