// TLS termination for https services: one secure context per certificate, the one whose names
// match the client's SNI chosen per handshake (exact name first, then a `*.` wildcard for the
// first label), the first certificate for clients without SNI or with an unknown name. ALPN
// offers what tls.alpn lists (h2 and http/1.1 by default). Contexts are rebuilt when a reload
// brings other certificates. Every context encrypts session tickets with the process's ticket
// keys, so a ticket resumes on whichever worker thread takes the next handshake, and across a
// reload that changes certificates.

import type net from 'node:net';
import tls from 'node:tls';
import type { TlsConfig } from '../../config/http-types.ts';
import { processSecrets } from '../../runtime/process-secrets.ts';

interface Entry {
  names: string[];
  context: tls.SecureContext;
}

export class TlsTerminator {
  #config: TlsConfig | null = null;
  /** certificates that could not be used: not tried again for every connection */
  #refused: TlsConfig | null = null;
  #entries: Entry[] = [];
  #default: tls.SecureContext | null = null;
  #alpn: string[] = ['http/1.1'];

  /**
   * Builds the contexts of `config` unless they are built already; throws on a bad certificate
   * or key, once per config (the previous contexts stay in use).
   */
  use(config: TlsConfig): void {
    if (config === this.#config || config === this.#refused) return;
    this.#refused = config;
    const ticketKeys = processSecrets().ticketKeys;
    const entries = config.certificates.map((c, i): Entry => {
      if (c.cert === '' || c.key === '') throw new Error(`certificate ${i + 1} (${c.certFile}) was not loaded`);
      return { names: c.names, context: tls.createSecureContext({ cert: c.cert, key: c.key, minVersion: config.minVersion, ticketKeys }) };
    });
    this.#entries = entries;
    this.#default = entries[0].context;
    this.#alpn = config.alpn;
    this.#config = config;
    this.#refused = null;
  }

  /** HTTP/2 is offered: the protocol is known once the handshake is done. */
  get offersH2(): boolean {
    return this.#alpn.includes('h2');
  }

  /** Certificates are in place (the first use() succeeded). */
  get ready(): boolean {
    return this.#default !== null;
  }

  /** The server side of TLS over an accepted socket. */
  wrap(socket: net.Socket): tls.TLSSocket {
    return new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: this.#default!,
      SNICallback: this.#sni,
      ALPNProtocols: this.#alpn,
    });
  }

  /** The context for a server name. */
  contextFor(servername: string): tls.SecureContext {
    const name = servername.toLowerCase();
    for (const e of this.#entries) if (e.names.includes(name)) return e.context;
    const dot = name.indexOf('.');
    if (dot !== -1) {
      const wildcard = `*${name.slice(dot)}`;
      for (const e of this.#entries) if (e.names.includes(wildcard)) return e.context;
    }
    return this.#default!;
  }

  #sni = (servername: string, done: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    done(null, this.contextFor(servername));
  };
}
