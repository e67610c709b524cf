// The entry of a worker thread: wires the messages of the main thread to one DataSide. Every
// handler catches what it awaits: nothing may escape a message callback.

import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log.ts';
import { adoptProcessSecrets } from '../runtime/process-secrets.ts';
import { AdminAnswers, type AdminAnswer } from './admin-asks.ts';
import { DataSide } from './data-side.ts';
import type { FromWorker, ToWorker, WorkerStart } from './messages.ts';
import { PassiveRelay } from './passive-relay.ts';
import { WorkerCounters } from './worker-counters.ts';

const start = workerData as WorkerStart;
const port = parentPort!;
let data: DataSide | null = null;
// before anything signs a cookie or issues a TLS ticket: the same secrets as every other thread
adoptProcessSecrets(start.secrets);
const admin = new AdminAnswers(start.index);

function send(message: FromWorker): void {
  port.postMessage(message);
}

port.on('message', (message: ToWorker) => {
  switch (message.type) {
    case 'apply': {
      if (data === null) {
        const log = createLogger(message.config.global.logLevel).child({ worker: start.index });
        const queues = { buffer: start.queues, threads: start.queueThreads, self: start.index };
        data = new DataSide(start.index, new WorkerCounters(start.counters, start.own), log, queues);
        data.passiveRelay = new PassiveRelay(start.passive, (reports) => send({ type: 'passive', reports }));
        data.sticks.send = (messages, lookups) => send({ type: 'sticks', messages, lookups });
        data.runtime.connections.idsFrom(start.firstId);
      }
      data.apply(message).then(
        (failures) => send({ type: 'applied', seq: message.seq, failures }),
        (err: unknown) => send({ type: 'applied', seq: message.seq, failures: [`worker ${start.index}: ${(err as Error).message}`] }),
      );
      return;
    }
    case 'member':
      data?.member(message.state);
      return;
    case 'sticks':
      data?.sticks.take(message.messages);
      return;
    case 'stats':
      send({ type: 'stats', seq: message.seq, stats: data?.stats() ?? { index: start.index, applied: 0, served: {}, connections: 0, maxConnections: Infinity } });
      return;
    case 'admin': {
      let answer: AdminAnswer;
      try {
        answer = admin.answer(data?.runtime ?? null, message.ask);
      } catch (err) {
        answer = { kind: 'failed', reason: (err as Error).stack ?? String(err) };
      }
      send({ type: 'admin', seq: message.seq, answer });
      return;
    }
    case 'stop':
      (data?.stop(message.grace) ?? Promise.resolve()).catch(() => {}).then(() => {
        send({ type: 'stopped' });
        port.close();
      });
      return;
  }
});
