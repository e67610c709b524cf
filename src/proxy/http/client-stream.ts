// What an exchange needs of the client it answers, in messages, not bytes: a response head, body
// parts, trailers, the end; our own answers (errors, redirects); a tunnel after a 101. How these
// go on the wire (status line, Connection and keep-alive, chunked framing, who may read interim
// heads) is the client protocol's business: HttpConnection does it for HTTP/1. A second client
// protocol (HTTP/2 streams) plugs in beside it by implementing this interface; the exchange,
// which talks to members, does not change.
//
// What an implementation must do:
// - write what it is given in order, and say (false) when the client is not taking it: the
//   exchange then pauses the member until the implementation calls the exchange's clientDrain();
// - call the exchange's body() with the request body, deadline() when the deadline it was given
//   passes, abort() when the client is gone, tunnelData()/tunnelClientEnd() in a tunnel;
// - decide itself whether the client connection carries another request after this one
//   (keep-alive), from what it read of the request and what it is told here;
// - after exchangeDone(), forget the exchange: nothing more comes from it.
// A ResponseHead is the member's head as response-head.ts read it: status, reason, the end-to-end
// fields as lines (`name: value` CRLF, the hop-by-hop ones already gone), the Content-Length and
// transfer codings apart. An HTTP/2 stream would split the lines into pairs and drop the codings.

import type { Endpoint } from '../../runtime/connection-table.ts';
import type { Member } from '../../runtime/member.ts';
import type { ResponseHead } from './response-head.ts';

export interface ClientStream {
  readonly client: Endpoint;
  /** the client's address as written toward members: canonical, or `unknown` (never raw outside bytes) */
  readonly forwardedClient: string;
  /** the client address's hash, for the hashing algorithms */
  readonly hash: number;
  readonly https: boolean;
  /** the server name the client's TLS handshake sent (lowercase); null for plain http or none */
  readonly serverName: string | null;
  /** the client speaks HTTP/2 (the access log says which protocol carried each request) */
  readonly http2: boolean;
  /**
   * The descriptor budget counts this client's connection as its own descriptor alone (every
   * HTTP/2 client; an HTTP/1.1 client of a service whose pool speaks HTTP/2 to its members): an
   * HTTP/1.1 member connection its request holds is counted apart, and one it must open needs room.
   */
  readonly countedAlone: boolean;
  member: Member | null;
  /** bytes read from and written to the client so far */
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** when the request's head began to arrive (ms since epoch): timeouts.request runs from it */
  readonly requestStart: number;

  // ---- the response, as a message

  /**
   * Whether the member's body bytes go to the client as the member framed them (HTTP/1 chunks
   * included): the fast path, no copy. When not, the exchange takes the framing off and passes
   * the payload alone, then the trailers.
   */
  passesRawBody(res: ResponseHead): boolean;
  /** A 1xx interim head (100 Continue, 103 Early Hints); a client that cannot read one is not sent it. */
  sendInterim(res: ResponseHead): boolean;
  /**
   * The final response head, with its first body bytes `body[0..end)` when they came with it (in
   * the form passesRawBody chose; `end` 0: none). `requestDone`: the request was read to its end.
   * `lent`: `body` is valid only during the call (a read lent by the member's stream): what is
   * kept of it, a write that waits included, must be a copy.
   */
  sendHead(res: ResponseHead, requestDone: boolean, body: Buffer | null, end: number, lent?: boolean): boolean;
  /** Body bytes, in the form passesRawBody chose; in a tunnel, the member's bytes. */
  sendBody(chunk: Buffer): boolean;
  /**
   * sendHead and sendBody return false whenever they still hold the body bytes they were given
   * (absent: they may hold them and return true), so the member connection's next read may reuse
   * their memory when they return true.
   */
  readonly signalsHeldWrites?: boolean;
  /** The trailer fields of a body passed without its framing (field lines, each with its CRLF). */
  sendTrailers(fields: string): void;
  /**
   * furiwake's own answer: `status` with a short text saying `message` (retryAfter: seconds, for
   * a 503). `requestDone`: the request was read to its end.
   */
  sendError(status: number, message: string, requestDone: boolean, retryAfter: number | undefined): void;
  /**
   * Turns the request away as not processed, for a shortage of furiwake's own that may pass: over
   * HTTP/2 its stream is reset with REFUSED_STREAM, which tells the client that nothing was done
   * with it and that it may be sent again, whatever its method (RFC 9113 §8.7). False when the
   * protocol has no such signal (HTTP/1.1) or the response has begun: the caller answers instead.
   */
  refuse(): boolean;
  /** A complete answer of a route (respond): `status`, `body` (text) of type `contentType`. */
  sendResponse(status: number, contentType: string, body: string, requestDone: boolean): void;
  /** A redirect to `location`, with no body. */
  sendRedirect(status: number, location: string, requestDone: boolean): void;
  /** A 101 to pass on, and the member's bytes that came after it: from now on it is a tunnel. */
  startTunnel(res: ResponseHead, rest: Buffer): void;

  // ---- flow and time

  pauseReading(): void;
  resumeReading(): void;
  /** the exchange's own deadline, `ms` from now; 0 clears it */
  setDeadline(ms: number): void;

  // ---- the end

  /**
   * The exchange is over (its response complete, or cut off by destroy()). `reusable` false: the
   * exchange left the stream out of step (a request body not read to its end, a tunnel, an
   * answer cut off), and the client connection must close. `now`: the time the exchange read as it
   * ended (Date.now()), for the keep-alive deadline.
   */
  exchangeDone(reusable: boolean, now: number): void;
  /** ends the client connection at once, with a reset (a response that cannot be completed) */
  destroy(): void;
  /** the last resort: a throw escaped the exchange's logic; reported, and the client is reset */
  crash(err: unknown): void;
}
