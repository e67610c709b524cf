// Data-plane suites that run once per stream engine (src/proxy/stream-engine.ts): Node's stream
// handles (the default) and net.Socket (the fallback), so both keep the same behaviour. Suites
// that cannot differ by engine (parsers alone, udp) run once.

import { after, before, describe } from 'node:test';

export const ENGINES = ['handles', 'sockets'] as const;

/**
 * `describe(title)` once per engine, with FURIWAKE_TCP_ENGINE set while its tests and hooks run.
 * Apps read it when they start: start them in a test, or in a before hook (not with startApp,
 * which stops its app once the hook is over), never while the suite is collected.
 */
export function describeOnEachEngine(title: string, suite: (engine: (typeof ENGINES)[number]) => void): void {
  for (const engine of ENGINES) {
    describe(`${title} on the ${engine} engine`, () => {
      let outside: string | undefined;
      before(() => {
        outside = process.env.FURIWAKE_TCP_ENGINE;
        process.env.FURIWAKE_TCP_ENGINE = engine;
      });
      after(() => {
        if (outside === undefined) delete process.env.FURIWAKE_TCP_ENGINE;
        else process.env.FURIWAKE_TCP_ENGINE = outside;
      });
      suite(engine);
    });
  }
}
