// Which stream engine the tcp data plane runs on. FURIWAKE_TCP_ENGINE=handles|sockets chooses
// one; unset (or auto) means Node's stream handles on the Node.js major they are tested on, and
// net.Socket elsewhere, under --pending-deprecation, or when their bindings cannot load (the
// permission model, a Node that changed them), said once in the log. An explicit `handles` that cannot load is an error at start.
// What each costs: bench/README.md.

import type { Logger } from '../log.ts';
import { bindingsWarn } from './handle-bindings.ts';
import { loadHandleEngine } from './handle-engine.ts';
import { socketEngine } from './socket-stream.ts';
import type { StreamEngine } from './stream.ts';

/** The Node.js major the handles engine is tested on: its bindings are Node's internals, which any other major may change. */
export const HANDLES_TESTED_ON = 24;

/** What the choice depends on in the Node.js that runs us. */
export interface NodeFacts {
  major: number;
  /** process.binding() is reported deprecated when called (--pending-deprecation) */
  bindingsWarn: boolean;
}

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

export interface EngineChoice {
  engine: StreamEngine;
  /** worth a warning: why `auto` is not on handles, or that `handles` runs on an untested Node.js */
  note: string | null;
}

/** The engine `choice` names, on `node`; `loadHandles` throws why the handles engine cannot load. */
export function chooseStreamEngine(choice: string | undefined, node: NodeFacts, loadHandles: () => StreamEngine): EngineChoice {
  switch (choice ?? '') {
    case '':
    case 'auto':
      if (node.major !== HANDLES_TESTED_ON) {
        return { engine: socketEngine, note: `the handles engine is tested on Node.js ${HANDLES_TESTED_ON} only, this is Node.js ${node.major}` };
      }
      // whoever asks for deprecation warnings gets none from us: the public API instead
      if (node.bindingsWarn) return { engine: socketEngine, note: 'Node.js runs with --pending-deprecation, and the handles engine uses process.binding() (DEP0111)' };
      try {
        return { engine: loadHandles(), note: null };
      } catch (err) {
        return { engine: socketEngine, note: `the handles engine cannot load: ${(err as Error).message}` };
      }
    case 'sockets':
      return { engine: socketEngine, note: null };
    case 'handles': {
      let engine: StreamEngine;
      try {
        engine = loadHandles();
      } catch (err) {
        throw new Error(`FURIWAKE_TCP_ENGINE=handles: the handles engine cannot load: ${(err as Error).message}; unset FURIWAKE_TCP_ENGINE (or set it to sockets) to run on net.Socket`);
      }
      const note = node.major === HANDLES_TESTED_ON ? null : `FURIWAKE_TCP_ENGINE=handles on Node.js ${node.major}: the handles engine is tested on Node.js ${HANDLES_TESTED_ON} only`;
      return { engine, note };
    }
    default:
      throw new Error(`FURIWAKE_TCP_ENGINE: expected auto, handles or sockets, got ${JSON.stringify(choice)}`);
  }
}

/** The logs already told about the engine's note: one line per process (per logger). */
const told = new WeakSet<Logger>();

/** The engine of FURIWAKE_TCP_ENGINE (or `choice`); its note, if any, goes to `log` once. */
export function streamEngine(choice: string | undefined = process.env.FURIWAKE_TCP_ENGINE, log: Logger | null = null): StreamEngine {
  const { engine, note } = chooseStreamEngine(choice, { major: NODE_MAJOR, bindingsWarn: bindingsWarn() }, loadHandleEngine);
  if (note !== null && log !== null && !told.has(log)) {
    told.add(log);
    log.warn({ engine: engine.name, reason: note }, 'tcp stream engine');
  }
  return engine;
}
