// What a tcp service may need to read from a client before it can choose a member: a PROXY
// header (accept-proxy: a balancer in front says who the client is), then, for tls-session
// persistence, the ClientHello (which session the client wants to resume). Fed chunk by chunk
// as they arrive; bounded in bytes (the caller bounds the time). The bytes after the PROXY header
// are kept, to be written to the member first.

import {
  type ClientHelloInfo,
  HANDSHAKE_CLIENT_HELLO,
  HandshakeReader,
  parseClientHello,
} from '../persistence/tls-session.ts';
import { helloServerName } from '../routing/server-name.ts';
import { type ProxiedAddresses, parseProxyHeader } from './proxy-header-reader.ts';

/** The most a client may send before its ClientHello is whole: a full record and its header. */
export const MAX_HELLO_BYTES = 16_384 + 5;

export class ClientHead {
  /** what the PROXY header says (null: nothing, or no header wanted) */
  addresses: ProxiedAddresses | null = null;
  /** the ClientHello's offer (null: not wanted, not TLS, too large or not in time) */
  hello: ClientHelloInfo | null = null;
  /** why the client must be turned away (a bad or missing PROXY header) */
  error: string | null = null;
  /** the client's bytes after the PROXY header, in order */
  readonly rest: Buffer[] = [];
  restBytes = 0;

  /** PROXY header bytes so far; null once the header is read (or none is wanted) */
  #proxy: Buffer | null;
  #tls: HandshakeReader | null;

  /** the server name the ClientHello asks for (routes by sni); null: not wanted, none, or no hello */
  serverName: string | null = null;

  /** `readSni`: the ClientHello's server name is wanted too (it is read whenever `readHello` is). */
  constructor(acceptProxy: boolean, readHello: boolean, readSni = false) {
    this.#proxy = acceptProxy ? Buffer.alloc(0) : null;
    this.#tls = readHello
      ? new HandshakeReader([HANDSHAKE_CLIENT_HELLO], MAX_HELLO_BYTES, (_type, body) => {
        this.hello = parseClientHello(body);
        if (readSni) this.serverName = helloServerName(body);
        return true;
      })
      : null;
  }

  /** Reads one chunk; true once the head is complete (or failed: see `error`). */
  push(chunk: Buffer): boolean {
    if (this.#proxy !== null) {
      const buffered = this.#proxy.length === 0 ? chunk : Buffer.concat([this.#proxy, chunk]);
      const parsed = parseProxyHeader(buffered);
      if (parsed === 'more') {
        this.#proxy = buffered;
        return false;
      }
      if (parsed.error !== null) {
        this.error = parsed.error;
        return true;
      }
      this.#proxy = null;
      this.addresses = parsed.addresses;
      chunk = buffered.subarray(parsed.length);
      if (chunk.length === 0) return this.#tls === null;
    }
    this.rest.push(chunk);
    this.restBytes += chunk.length;
    if (this.#tls === null) return true;
    return this.#tls.push(chunk) !== 'reading' || this.restBytes >= MAX_HELLO_BYTES;
  }

  /** The client finished (FIN) or the time ran out before the head was complete. */
  stop(why: string): void {
    if (this.#proxy !== null) this.error = why;
  }
}
