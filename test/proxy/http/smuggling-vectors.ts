// The request-smuggling table: requests that two HTTP implementations could read two ways, or
// that are malformed, each with what furiwake answers (and what its member then gets) and what
// HAProxy 2.6 answered, measured by bench/smuggling-haproxy.ts against the same member. Shared
// by test/proxy/http/smuggling.test.ts (furiwake) and that script (HAProxy), with the member
// both use: a raw TCP server that frames requests by itself and records each one it reads, so
// that a request hidden in another's body shows up as a request of its own.

import { once } from 'node:events';
import net from 'node:net';

export interface Vector {
  name: string;
  /** the bytes the client sends, as latin1 text */
  send: string;
  /** the statuses furiwake answers, in order */
  ours: number[];
  /** the requests the member gets through furiwake, as `METHOD target`, in order */
  member: string[];
  /** what the first request the member gets must match (a normalised head) */
  head?: RegExp;
  /** what HAProxy 2.6 did, as `outcome()` writes it (bench/smuggling-haproxy.ts measures it) */
  haproxy: string;
}

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
const post = (fields: string, body: string): string => `POST / HTTP/1.1\r\nHost: x\r\n${fields}\r\n${body}`;
const get = (fields: string): string => `GET / HTTP/1.1\r\nHost: x\r\n${fields}\r\n`;
const chunked = (body: string): string => post('Transfer-Encoding: chunked\r\n', body);

export const VECTORS: Vector[] = [
  // ---- Content-Length and Transfer-Encoding together
  { name: 'CL then TE', send: post('Content-Length: 6\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: '200 → POST /' },
  { name: 'TE then CL', send: post('Transfer-Encoding: chunked\r\nContent-Length: 6\r\n', `0\r\n\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: '200 → POST /' },
  { name: 'CL with an obfuscated TE (trailing space)', send: post('Content-Length: 4\r\nTransfer-Encoding: chunked \r\n', `5c\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: 'no answer' },
  { name: 'CL with TE: x-chunked', send: post('Content-Length: 5\r\nTransfer-Encoding: x-chunked\r\n', `0\r\n\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: '400' },
  // ---- Transfer-Encoding variants and obfuscations
  { name: 'TE: chunked with trailing whitespace (OWS)', send: chunked('5\r\nhello\r\n0\r\n\r\n').replace('chunked\r\n', 'chunked \r\n'), ours: [200], member: ['POST /'], head: /\r\ntransfer-encoding: chunked\r\n/, haproxy: '200 → POST /' },
  { name: 'TE: Chunked (case)', send: chunked('5\r\nhello\r\n0\r\n\r\n').replace('chunked\r\n', 'Chunked\r\n'), ours: [200], member: ['POST /'], head: /\r\ntransfer-encoding: chunked\r\n/, haproxy: '200 → POST /' },
  { name: 'TE: HTAB before chunked', send: chunked('5\r\nhello\r\n0\r\n\r\n').replace(': chunked', ':\tchunked'), ours: [200], member: ['POST /'], head: /\r\ntransfer-encoding: chunked\r\n/, haproxy: '200 → POST /' },
  { name: 'TE: x-chunked', send: post('Transfer-Encoding: x-chunked\r\n', `0\r\n\r\n${SMUGGLED}`), ours: [501], member: [], haproxy: '400' },
  { name: 'TE: chunked;x', send: post('Transfer-Encoding: chunked;x\r\n', `0\r\n\r\n${SMUGGLED}`), ours: [501], member: [], haproxy: '400' },
  { name: 'TE: identity, chunked', send: post('Transfer-Encoding: identity, chunked\r\n', `0\r\n\r\n${SMUGGLED}`), ours: [501], member: [], haproxy: '422' },
  { name: 'TE: chunked, identity', send: post('Transfer-Encoding: chunked, identity\r\n', `0\r\n\r\n${SMUGGLED}`), ours: [501], member: [], haproxy: '400' },
  { name: 'TE: gzip, chunked', send: post('Transfer-Encoding: gzip, chunked\r\n', '0\r\n\r\n'), ours: [501], member: [], haproxy: '422' },
  { name: 'TE twice', send: post('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n', `0\r\n\r\n${SMUGGLED}`), ours: [501], member: [], haproxy: '400' },
  { name: 'TE: chunked, chunked', send: post('Transfer-Encoding: chunked, chunked\r\n', `0\r\n\r\n${SMUGGLED}`), ours: [501], member: [], haproxy: '400' },
  { name: 'TE: ,chunked (empty list element)', send: post('Transfer-Encoding: ,chunked\r\n', '0\r\n\r\n'), ours: [200], member: ['POST /'], head: /\r\ntransfer-encoding: chunked\r\n/, haproxy: '422' },
  { name: 'TE in HTTP/1.0', send: `POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`, ours: [400], member: [], haproxy: '200 → POST /' },
  { name: 'TE with a vertical tab', send: post('Transfer-Encoding: \x0bchunked\r\n', `0\r\n\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: '400' },
  { name: 'TE with a space before the colon', send: post('Transfer-Encoding : chunked\r\n', `0\r\n\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: '400' },
  { name: 'TE folded onto the next line', send: post('Transfer-Encoding:\r\n chunked\r\n', `0\r\n\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: '200,200 → POST /, GET /smuggled' },
  { name: 'Connection naming Transfer-Encoding', send: post('Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n', '0\r\n\r\n'), ours: [400], member: [], haproxy: '200 → POST /' },
  // ---- Content-Length
  { name: 'two equal CLs', send: post('Content-Length: 5\r\nContent-Length: 5\r\n', 'hello'), ours: [400], member: [], haproxy: '200 → POST /' },
  { name: 'two different CLs', send: post('Content-Length: 5\r\nContent-Length: 41\r\n', `hello${SMUGGLED}`), ours: [400], member: [], haproxy: '400' },
  { name: 'a CL list', send: post('Content-Length: 5, 5\r\n', 'hello'), ours: [400], member: [], haproxy: '200 → POST /' },
  { name: 'CL 1_0', send: post('Content-Length: 1_0\r\n', 'helloworld'), ours: [400], member: [], haproxy: '400' },
  { name: 'CL 0x10', send: post('Content-Length: 0x10\r\n', 'hellohelloworld!'), ours: [400], member: [], haproxy: '400' },
  { name: 'CL +5', send: post('Content-Length: +5\r\n', 'hello'), ours: [400], member: [], haproxy: '400' },
  { name: 'CL -1', send: post('Content-Length: -1\r\n', ''), ours: [400], member: [], haproxy: '400' },
  { name: 'CL empty', send: post('Content-Length: \r\n', ''), ours: [400], member: [], haproxy: '400' },
  { name: 'CL with a leading space (OWS)', send: post('Content-Length:  5\r\n', 'hello'), ours: [200], member: ['POST /'], head: /\r\ncontent-length: 5\r\n/, haproxy: '200 → POST /' },
  { name: 'CL with leading zeros', send: post('Content-Length: 005\r\n', 'hello'), ours: [200], member: ['POST /'], head: /\r\ncontent-length: 5\r\n/, haproxy: '200 → POST /' },
  { name: 'CL above 2^53', send: post('Content-Length: 9007199254740993\r\n', 'hello'), ours: [400], member: [], haproxy: 'no answer' },
  { name: 'CL with a space inside', send: post('Content-Length: 1 0\r\n', 'helloworld'), ours: [400], member: [], haproxy: '400' },
  { name: 'Connection naming Content-Length', send: post('Connection: Content-Length\r\nContent-Length: 5\r\n', 'hello'), ours: [400], member: [], haproxy: '200 → POST /' },
  // ---- line endings and characters in the head
  { name: 'obs-fold', send: get('X-A: 1\r\n Transfer-Encoding: chunked\r\n'), ours: [400], member: [], haproxy: '200 → GET /' },
  { name: 'a bare LF between fields', send: 'GET / HTTP/1.1\r\nHost: x\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', ours: [400], member: [], haproxy: '200 → GET /' },
  { name: 'bare LF line ends throughout', send: 'GET / HTTP/1.1\nHost: x\n\n', ours: [400], member: [], haproxy: '200 → GET /' },
  { name: 'a bare LF in the request line', send: 'GET /\nHost: x\r\n\r\n', ours: [400], member: [], haproxy: '400' },
  { name: 'a bare CR in a value', send: get('X-A: a\rTransfer-Encoding: chunked\r\n'), ours: [400], member: [], haproxy: '400' },
  { name: 'NUL in a value', send: get('X-A: a\x00b\r\n'), ours: [400], member: [], haproxy: '200 → GET /' },
  { name: 'NUL in a name', send: get('X-\x00A: 1\r\n'), ours: [400], member: [], haproxy: '400' },
  { name: 'NUL in the target', send: 'GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n', ours: [400], member: [], haproxy: '400' },
  { name: 'a space inside a name', send: get('X A: 1\r\n'), ours: [400], member: [], haproxy: '400' },
  { name: 'a name that starts with a colon', send: get(':X: 1\r\n'), ours: [400], member: [], haproxy: '400' },
  { name: 'an empty name', send: get(': 1\r\n'), ours: [400], member: [], haproxy: '400' },
  { name: 'a name with ( )', send: get('X(A): 1\r\n'), ours: [400], member: [], haproxy: '400' },
  { name: 'a name with an 8-bit byte', send: get('X-\xe9: 1\r\n'), ours: [400], member: [], haproxy: '400' },
  { name: 'a line without a colon', send: get('X-A 1\r\n'), ours: [400], member: [], haproxy: '400' },
  { name: 'a value with 8-bit bytes (obs-text)', send: get('X-A: caf\xe9\r\n'), ours: [200], member: ['GET /'], haproxy: '200 → GET /' },
  // ---- chunk sizes and extensions
  { name: 'chunk size zz', send: chunked(`zz\r\nhello\r\n0\r\n\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: '400' },
  { name: 'chunk size -5', send: chunked('-5\r\nhello\r\n0\r\n\r\n'), ours: [400], member: [], haproxy: '400' },
  { name: 'chunk size 0x5', send: chunked('0x5\r\nhello\r\n0\r\n\r\n'), ours: [400], member: [], haproxy: '400' },
  { name: 'chunk size with a space after it', send: chunked('5 \r\nhello\r\n0\r\n\r\n'), ours: [400], member: [], haproxy: '200 → POST /' },
  { name: 'chunk size with a space before it', send: chunked(' 5\r\nhello\r\n0\r\n\r\n'), ours: [400], member: [], haproxy: '400' },
  { name: 'chunk size overflow (17 hex digits)', send: chunked(`10000000000000005\r\nhello\r\n0\r\n\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: '400' },
  { name: 'chunk size with leading zeros', send: chunked('005\r\nhello\r\n0\r\n\r\n'), ours: [200], member: ['POST /'], haproxy: '200 → POST /' },
  { name: 'chunk data longer than its size', send: chunked(`2\r\nhello\r\n0\r\n\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: '400' },
  { name: 'chunk size line ended by a bare LF', send: chunked(`5\nhello\r\n0\r\n\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: '200,200 → POST /, GET /smuggled' },
  { name: 'extension 5;', send: chunked('5;\r\nhello\r\n0\r\n\r\n'), ours: [400], member: [], haproxy: '200 → POST /' },
  { name: 'extension 5;a=b', send: chunked('5;a=b\r\nhello\r\n0\r\n\r\n'), ours: [200], member: ['POST /'], haproxy: '200 → POST /' },
  { name: 'extension with a quoted string', send: chunked('5;a="x;y"\r\nhello\r\n0\r\n\r\n'), ours: [200], member: ['POST /'], haproxy: '200 → POST /' },
  { name: 'extension with a quoted CRLF', send: chunked(`5;a="\r\n0\r\n\r\n${SMUGGLED}"\r\nhello\r\n0\r\n\r\n`), ours: [400], member: [], haproxy: '400' },
  { name: 'extension with a bare LF', send: chunked(`5;a\nb\r\nhello\r\n0\r\n\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: '400' },
  { name: 'over-long extension (5000 bytes)', send: chunked(`5;a=${'b'.repeat(5000)}\r\nhello\r\n0\r\n\r\n`), ours: [400], member: [], haproxy: '200 → POST /' },
  // ---- trailers
  { name: 'a trailer field', send: chunked('5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n'), ours: [200], member: ['POST /'], haproxy: '200 → POST /' },
  { name: 'a request line as a trailer', send: chunked(`0\r\n${SMUGGLED}`), ours: [400], member: [], haproxy: '400' },
  { name: 'Content-Length as a trailer', send: chunked('0\r\nContent-Length: 50\r\n\r\n'), ours: [400], member: [], haproxy: '200 → POST /' },
  { name: 'a folded trailer', send: chunked('0\r\nX-A: 1\r\n folded\r\n\r\n'), ours: [400], member: [], haproxy: '200 → POST /' },
  // ---- request lines
  { name: 'two spaces after the method', send: 'GET  / HTTP/1.1\r\nHost: x\r\n\r\n', ours: [400], member: [], haproxy: '200 → GET /' },
  { name: 'a tab instead of a space', send: 'GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n', ours: [400], member: [], haproxy: '200 → GET /' },
  { name: 'a lowercase method', send: 'get / HTTP/1.1\r\nHost: x\r\n\r\n', ours: [200], member: ['get /'], haproxy: '200 → get /' },
  { name: 'HTTP/1.2', send: 'GET / HTTP/1.2\r\nHost: x\r\n\r\n', ours: [505], member: [], haproxy: '200 → GET /' },
  { name: 'HTTP/2.0 on HTTP/1 (h2 preface)', send: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', ours: [505], member: [], haproxy: 'no answer' },
  { name: 'a space after the version', send: 'GET / HTTP/1.1 \r\nHost: x\r\n\r\n', ours: [400], member: [], haproxy: '400' },
  { name: 'no version (HTTP/0.9)', send: 'GET /\r\nHost: x\r\n\r\n', ours: [400], member: [], haproxy: '400' },
  { name: 'a lowercase version', send: 'GET / http/1.1\r\nHost: x\r\n\r\n', ours: [400], member: [], haproxy: '400' },
  { name: 'GET *', send: 'GET * HTTP/1.1\r\nHost: x\r\n\r\n', ours: [400], member: [], haproxy: '200 → GET *' },
  { name: 'OPTIONS *', send: 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', ours: [200], member: ['OPTIONS *'], haproxy: '200 → OPTIONS *' },
  { name: 'CONNECT', send: 'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n', ours: [405], member: [], haproxy: '200 → CONNECT x:443' },
  { name: 'a fragment in the target', send: 'GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n', ours: [400], member: [], haproxy: '400' },
  { name: 'a space in the target', send: 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n', ours: [400], member: [], haproxy: '400' },
  { name: 'an 8-bit byte in the target', send: 'GET /caf\xe9 HTTP/1.1\r\nHost: x\r\n\r\n', ours: [400], member: [], haproxy: '400' },
  { name: 'a relative target', send: 'GET a/b HTTP/1.1\r\nHost: x\r\n\r\n', ours: [400], member: [], haproxy: '400' },
  // ---- absolute-form and Host
  { name: 'absolute-form, the same Host', send: 'GET http://a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n', ours: [200], member: ['GET /x'], head: /\r\nHost: a\.example\r\n/, haproxy: '200 → GET http://a.example/x' },
  { name: 'absolute-form, another Host', send: 'GET http://a.example/x HTTP/1.1\r\nHost: b.example\r\n\r\n', ours: [400], member: [], haproxy: '400' },
  { name: 'absolute-form with userinfo', send: 'GET http://u@a.example/x HTTP/1.1\r\nHost: a.example\r\n\r\n', ours: [400], member: [], haproxy: '200 → GET http://u@a.example/x' },
  { name: 'absolute-form, HTTP/1.0 without Host', send: 'GET http://a.example/x HTTP/1.0\r\n\r\n', ours: [200], member: ['GET /x'], head: /\r\nhost: a\.example\r\n/, haproxy: '200 → GET http://a.example/x' },
  { name: 'two Hosts', send: 'GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n', ours: [400], member: [], haproxy: '400' },
  { name: 'no Host', send: 'GET / HTTP/1.1\r\n\r\n', ours: [400], member: [], haproxy: '200 → GET /' },
  { name: 'an empty Host', send: 'GET / HTTP/1.1\r\nHost:\r\n\r\n', ours: [200], member: ['GET /'], haproxy: '200 → GET /' },
  { name: 'a Host with userinfo', send: 'GET / HTTP/1.1\r\nHost: u@x\r\n\r\n', ours: [400], member: [], haproxy: '200 → GET /' },
  { name: 'a Host with a space', send: 'GET / HTTP/1.1\r\nHost: x y\r\n\r\n', ours: [400], member: [], haproxy: '200 → GET /' },
  // ---- upgrades, Expect
  {
    name: 'h2c upgrade (the upgrade is dropped: a plain GET)',
    send: get('Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n'),
    ours: [200], member: ['GET /'], head: /^(?![\s\S]*(upgrade|http2-settings):)/i, haproxy: '200 → GET /',
  },
  { name: 'Expect: 100-continue, body sent at once', send: post('Expect: 100-continue\r\nContent-Length: 5\r\n', 'hello'), ours: [200], member: ['POST /'], haproxy: '200 → POST /' },
  { name: 'Expect: 100-continue, foo', send: get('Expect: 100-continue, foo\r\n'), ours: [417], member: [], haproxy: '200 → GET /' },
  { name: 'Expect: something', send: get('Expect: something\r\n'), ours: [417], member: [], haproxy: '200 → GET /' },
  // ---- pipelining around bodies
  { name: 'a second request after a body', send: post('Content-Length: 5\r\n', 'helloGET /second HTTP/1.1\r\nHost: x\r\n\r\n'), ours: [200, 200], member: ['POST /', 'GET /second'], haproxy: '200,200 → POST /, GET /second' },
  { name: 'a body longer than its CL, then a request', send: post('Content-Length: 3\r\n', 'helloGET /framed HTTP/1.1\r\nHost: x\r\n\r\n'), ours: [200, 200], member: ['POST /', 'loGET /framed'], haproxy: '200,200 → POST /, loGET /framed' },
  { name: 'a body longer than its CL, not a request', send: post('Content-Length: 3\r\n', 'hello world\r\n\r\n'), ours: [200, 400], member: ['POST /'], haproxy: '200,400 → POST /' },
  { name: 'a GET with CL 0, then a request', send: get('Content-Length: 0\r\n') + 'GET /second HTTP/1.1\r\nHost: x\r\n\r\n', ours: [200, 200], member: ['GET /', 'GET /second'], haproxy: '200,200 → GET /, GET /second' },
  { name: 'a chunked body then a request', send: chunked('5\r\nhello\r\n0\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n'), ours: [200, 200], member: ['POST /', 'GET /second'], haproxy: '200,200 → POST /, GET /second' },
  { name: 'empty lines before a request', send: '\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n', ours: [200], member: ['GET /'], haproxy: '200 → GET /' },
  { name: '201 header fields', send: get(Array.from({ length: 200 }, (_, i) => `X-${i}: 1\r\n`).join('')), ours: [431], member: [], haproxy: '400' },
];

/** An outcome as the table's HAProxy column writes it: the statuses, then the requests the member got. */
export function outcome(statuses: readonly number[], member: readonly string[]): string {
  return `${statuses.length === 0 ? 'no answer' : statuses.join(',')}${member.length === 0 ? '' : ` → ${member.join(', ')}`}`;
}

// ---- the member ---------------------------------------------------------------------------

export interface MemberRequest {
  /** `METHOD target` */
  line: string;
  /** the whole head as it came, latin1 */
  head: string;
}

export interface RecordingMember {
  port: number;
  /** every request read, all connections together, in order */
  requests: MemberRequest[];
  /** bytes received, all connections together */
  bytes: number;
  /** bytes the member could not read as a request (each ends that connection) */
  unreadable: string[];
  close(): Promise<void>;
}

const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';

/**
 * A member that reads requests with its own framer (Content-Length or chunked, nothing else:
 * what a proxy sends it is framed by one of them) and answers each with 200.
 */
export async function startRecordingMember(): Promise<RecordingMember> {
  const sockets = new Set<net.Socket>();
  const member: RecordingMember = {
    port: 0, requests: [], bytes: 0, unreadable: [],
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      member.bytes += chunk.length;
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const read = readRequest(buf);
        if (read === null) return;
        if (read === 'bad') {
          member.unreadable.push(buf.toString('latin1'));
          socket.destroy();
          return;
        }
        member.requests.push(read.request);
        buf = buf.subarray(read.length);
        socket.write(OK);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  member.port = (server.address() as net.AddressInfo).port;
  return member;
}

/** One request from the start of `buf`: null when incomplete, 'bad' when it cannot be read. */
function readRequest(buf: Buffer): { request: MemberRequest; length: number } | null | 'bad' {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const head = buf.toString('latin1', 0, end + 4);
  const lines = head.split('\r\n');
  const parts = lines[0].split(' ');
  if (parts.length !== 3) return 'bad';
  let length = 0;
  let chunkedBody = false;
  for (const line of lines.slice(1, -2)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return 'bad';
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') length = /^\d+$/.test(value) ? Number(value) : NaN;
    if (name === 'transfer-encoding') chunkedBody = value.toLowerCase() === 'chunked';
  }
  if (Number.isNaN(length)) return 'bad';
  let at = end + 4;
  if (chunkedBody) {
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd === -1) return null;
      const size = parseInt(buf.toString('latin1', at, lineEnd).split(';')[0], 16);
      if (Number.isNaN(size)) return 'bad';
      at = lineEnd + 2;
      if (size === 0) break;
      if (buf.length < at + size + 2) return null;
      if (buf[at + size] !== 0x0d || buf[at + size + 1] !== 0x0a) return 'bad';
      at += size + 2;
    }
    // trailer fields, then the empty line
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd === -1) return null;
      const empty = lineEnd === at;
      at = lineEnd + 2;
      if (empty) break;
    }
  } else {
    if (buf.length < at + length) return null;
    at += length;
  }
  return { request: { line: `${parts[0]} ${parts[1]}`, head }, length: at };
}

// ---- the client ---------------------------------------------------------------------------

/** The statuses of the complete responses (framed by Content-Length) at the start of `text`. */
export function statuses(text: string): number[] {
  const out: number[] = [];
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) return out;
    const head = text.slice(at, end);
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (m === null) return out;
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    const next = end + 4 + (length === null ? 0 : Number(length[1]));
    if (text.length < next) return out;
    out.push(Number(m[1]));
    at = next;
  }
}

/**
 * Sends `bytes` on a new connection and reads until `enough` holds of what came, or the other
 * side closes; then closes. Resolves with what came and whether the other side closed first.
 */
export function sendRaw(port: number, bytes: string, enough: (text: string) => boolean): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    let settled = false;
    const settle = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve({ text, closed });
    };
    socket.on('connect', () => socket.write(Buffer.from(bytes, 'latin1')));
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (enough(text)) settle(false);
    });
    socket.on('end', () => settle(true));
    socket.on('error', () => settle(true));
  });
}
