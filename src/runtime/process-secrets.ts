// The secrets of one process, made once: the key that signs persistence cookies when the config
// gives no secret, and the keys that encrypt the TLS session tickets of https services. With
// `global.workers` above 1 the main thread makes them and gives them to every worker thread
// (workers/messages.ts WorkerStart), so what one thread signs or encrypts every other reads: a
// cookie set by one worker pins on the next, a ticket issued by one resumes on the next. They
// last as long as the process, across reloads.

import { randomBytes } from 'node:crypto';

export interface ProcessSecrets {
  /** signs cookie values (HMAC-SHA256) when the persistence config has no `secret` */
  cookie: Buffer;
  /** TLS session ticket keys (48 bytes: name, HMAC key, AES key), the same in every secure context */
  ticketKeys: Buffer;
}

let secrets: ProcessSecrets | null = null;

/** This process's secrets; made at the first call. */
export function processSecrets(): ProcessSecrets {
  secrets ??= { cookie: randomBytes(32), ticketKeys: randomBytes(48) };
  return secrets;
}

/**
 * A worker thread takes the main thread's secrets before it builds anything that uses them.
 * They come as a message copies them (Uint8Array views): made Buffers again here.
 */
export function adoptProcessSecrets(given: { cookie: Uint8Array; ticketKeys: Uint8Array }): void {
  secrets = { cookie: Buffer.from(given.cookie), ticketKeys: Buffer.from(given.ticketKeys) };
}
