// Data-plane suites that run once per stream engine (src/proxy/stream-engine.ts): Node's stream
// handles (the default) and net.Socket (the fallback), so both keep the same behaviour.

import { after, before, describe } from 'node:test';

export const ENGINES = ['handles', 'sockets'] as const;

/** `describe(title)` once per engine, with FURIWAKE_TCP_ENGINE set while its tests run (apps read it at start). */
export function describeOnEachEngine(title: string, suite: (engine: (typeof ENGINES)[number]) => void): void {
  for (const engine of ENGINES) {
    describe(`${title} on the ${engine} engine`, () => {
      before(() => {
        process.env.FURIWAKE_TCP_ENGINE = engine;
      });
      after(() => {
        delete process.env.FURIWAKE_TCP_ENGINE;
      });
      suite(engine);
    });
  }
}
