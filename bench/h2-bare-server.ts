// The ceiling of any balancer built on Node's http2, for bench/h2.sh: a bare node:http2 server
// over TLS (ALPN h2) that answers every request from memory with what the nginx backend answers
// (`ok\n`, text/plain), with no member behind it. Whatever furiwake costs per request above this
// is furiwake's (the exchange, the member connection); this much is node's (TLS, nghttp2, its
// Http2Stream per request).
// `node bench/h2-bare-server.ts PORT CERT KEY [member]`: with `member`, each request is passed
// on to the HTTP/1.1 backend at 127.0.0.1:MEMBER_PORT (env) on a kept connection per stream in
// flight, with a hand-written head and no parsing beyond the end of the head: what a balancer
// that does nothing else would cost.

import { readFileSync } from 'node:fs';
import http2, { type ServerHttp2Stream } from 'node:http2';
import net from 'node:net';

const [port, certFile, keyFile, mode] = process.argv.slice(2);
const BODY = Buffer.from('ok\n');
const HEADERS = [':status', '200', 'content-type', 'text/plain', 'content-length', '3'];
const server = http2.createSecureServer({
  cert: readFileSync(certFile),
  key: readFileSync(keyFile),
  allowHTTP1: false,
  settings: { maxConcurrentStreams: 128 },
});

if (mode === 'member') {
  const memberPort = Number(process.env.MEMBER_PORT);
  const idle: MemberConnection[] = [];
  const REQUEST = Buffer.from('GET / HTTP/1.1\r\nhost: bench\r\n\r\n', 'latin1');

  class MemberConnection {
    readonly socket: net.Socket;
    stream: ServerHttp2Stream | null = null;
    head = '';
    constructor() {
      this.socket = net.connect(memberPort, '127.0.0.1');
      this.socket.setNoDelay(true);
      this.socket.on('data', (chunk: Buffer) => this.data(chunk));
      this.socket.on('error', () => this.stream?.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
    }

    send(stream: ServerHttp2Stream): void {
      this.stream = stream;
      this.head = '';
      this.socket.write(REQUEST);
    }

    data(chunk: Buffer): void {
      // nginx's `ok\n` answer: a head with Content-Length 3, and its body, in one read
      this.head += chunk.toString('latin1');
      const end = this.head.indexOf('\r\n\r\n');
      if (end === -1 || this.head.length < end + 4 + 3) return;
      const stream = this.stream!;
      this.stream = null;
      idle.push(this);
      if (stream.destroyed) return;
      stream.respond(HEADERS, { endStream: false });
      stream.end(Buffer.from(this.head.slice(end + 4), 'latin1'));
    }
  }

  server.on('stream', (stream) => {
    stream.on('error', () => {});
    (idle.pop() ?? new MemberConnection()).send(stream);
  });
} else {
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.respond(HEADERS, { endStream: false });
    stream.end(BODY);
  });
}

server.listen(Number(port), '127.0.0.1', () => console.log('listening'));
