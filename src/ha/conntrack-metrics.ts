// The metrics of kernel connection sync (furiwake_ha_conntrack_*), as data the admin plane's
// /metrics registers like its own (a type, a name, help and labels, and samples read when
// scraped), so this plane does not depend on the metrics library.

import { ROLE_COMMANDS, type ConntrackCommand, type ConntrackSync } from './conntrack-sync.ts';

export type ConntrackSample = [Record<string, string>, number];

export interface ConntrackMetric {
  type: 'gauge' | 'counter';
  name: string;
  help: string;
  labels: string[];
  samples(sync: ConntrackSync): ConntrackSample[];
}

const COMMANDS = [...new Set(Object.values(ROLE_COMMANDS).flat())] as ConntrackCommand[];

export const CONNTRACK_METRICS: readonly ConntrackMetric[] = [
  {
    type: 'gauge', name: 'furiwake_ha_conntrack_running', labels: [],
    help: 'Whether conntrackd (kernel connection sync) runs and answers (1) or not (0).',
    samples: (sync) => [[{}, sync.status().running ? 1 : 0]],
  },
  {
    type: 'counter', name: 'furiwake_ha_conntrack_restarts_total', labels: [],
    help: 'Times conntrackd was started again after it stopped or could not start.',
    samples: (sync) => [[{}, sync.counters().restarts]],
  },
  {
    type: 'counter', name: 'furiwake_ha_conntrack_commands_total', labels: ['command', 'result'],
    help: 'conntrackd commands run at role changes (commit, flush, resync, bulk-send, purge, request-resync), by result (ok, failed).',
    samples: (sync) => COMMANDS.flatMap((command): ConntrackSample[] => {
      const count = sync.counters().commands[command];
      return [[{ command, result: 'ok' }, count.ok], [{ command, result: 'failed' }, count.failed]];
    }),
  },
];
