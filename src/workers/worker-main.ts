// The entry of a worker thread: wires the messages of the main thread to one DataSide. Every
// handler catches what it awaits: nothing may escape a message callback.

import { parentPort, workerData } from 'node:worker_threads';
import { createLogger, logOutputs, type Logger } from '../log.ts';
import { adoptProcessSecrets } from '../runtime/process-secrets.ts';
import { AdminAnswers, type AdminAnswer } from './admin-asks.ts';
import { DataSide } from './data-side.ts';
import type { FromWorker, ToWorker, WorkerStart } from './messages.ts';
import { PassiveRelay } from './passive-relay.ts';
import { WorkerCounters } from './worker-counters.ts';

const start = workerData as WorkerStart;
const port = parentPort!;
let data: DataSide | null = null;
let log: Logger | null = null;
// before anything signs a cookie or issues a TLS ticket: the same secrets as every other thread
adoptProcessSecrets(start.secrets);
const admin = new AdminAnswers(start.index);

function send(message: FromWorker): void {
  port.postMessage(message);
}

port.on('message', (message: ToWorker) => {
  // an answer follows the stick table changes made before it (worker-sticks.ts)
  if (message.type === 'stats' || message.type === 'admin') data?.sticks.sendPending();
  switch (message.type) {
    case 'apply': {
      if (data === null) {
        log = createLogger(message.config.global.logLevel).child({ worker: start.index });
        const queues = { buffer: start.queues, threads: start.queueThreads, self: start.index };
        data = new DataSide(start.index, new WorkerCounters(start.counters, start.own), log, queues);
        data.passiveRelay = new PassiveRelay(start.passive, (reports) => send({ type: 'passive', reports }));
        data.sticks.send = (messages, lookups) => send({ type: 'sticks', messages, lookups });
        data.runtime.connections.idsFrom(start.firstId);
      }
      // this thread's own files and sockets, as the main thread opened its own
      const logProblems = logOutputs(log!).apply(message.config.logs).map((p) => `worker ${start.index}: ${p}`);
      data.apply(message).then(
        (failures) => send({ type: 'applied', seq: message.seq, failures: [...logProblems, ...failures] }),
        (err: unknown) => send({ type: 'applied', seq: message.seq, failures: [`worker ${start.index}: ${(err as Error).message}`] }),
      );
      return;
    }
    case 'members':
      if (data !== null) for (const state of message.states) data.member(state);
      return;
    case 'sticks':
      data?.sticks.take(message.messages);
      return;
    case 'stats':
      send({ type: 'stats', seq: message.seq, stats: data?.stats() ?? { index: start.index, applied: 0, served: {}, connections: 0, maxConnections: Infinity } });
      return;
    case 'admin': {
      let answer: AdminAnswer;
      // the log lines this thread's destinations dropped, reported with its other counts
      if (data !== null && log !== null) data.runtime.resources.logLinesDropped = logOutputs(log).dropped;
      try {
        answer = admin.answer(data?.runtime ?? null, message.ask);
      } catch (err) {
        answer = { kind: 'failed', reason: (err as Error).stack ?? String(err) };
      }
      send({ type: 'admin', seq: message.seq, answer });
      return;
    }
    case 'reopen-logs': {
      if (log === null) return;
      const problems = logOutputs(log).reopen();
      if (problems.length > 0) log.warn({ problems }, 'cannot reopen log files; writing on to the files open before');
      else log.info('log files reopened');
      return;
    }
    case 'stop':
      // what the log files and the syslog server have not taken yet goes out before the thread ends
      (data?.stop(message.grace) ?? Promise.resolve()).then(() => (log === null ? undefined : logOutputs(log).close())).catch(() => {}).then(() => {
        send({ type: 'stopped' });
        port.close();
      });
      return;
  }
});
