// The least any Node balancer built on node:http2 spends per request towards an h2c member, the
// floor under furiwake's member side (bench/h2-members.sh runs it beside furiwake and HAProxy):
// `client PORT STREAMS SECONDS`: a bare node:http2 client keeping STREAMS requests in flight on
// each of 10 sessions to the member, printing its own CPU per request; `proxy PORT MEMBER_PORT`:
// a bare h2c-to-h2c proxy (server streams relayed to a few client sessions, no parsing, no
// balancing, no limits), whose CPU the script measures as it does a balancer's.

import http2, { type ClientHttp2Session } from 'node:http2';

const [mode, a, b, c] = process.argv.slice(2);

if (mode === 'client') {
  const port = Number(a);
  const streams = Number(b);
  const seconds = Number(c);
  let done = 0;
  let stop = false;
  const cpu = process.cpuUsage();
  const start = Date.now();
  for (let i = 0; i < 10; i++) {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => {});
    const one = (): void => {
      if (stop) return;
      const req = session.request({ ':path': '/' }, { endStream: true });
      req.on('data', () => {});
      req.on('end', () => {
        done++;
        one();
      });
      req.on('error', () => {});
    };
    for (let s = 0; s < streams; s++) one();
  }
  setTimeout(() => {
    stop = true;
    const used = process.cpuUsage(cpu);
    const wall = (Date.now() - start) / 1000;
    const us = (used.user + used.system) / done;
    console.log(`node-client-m${streams} ${done} req ${(done / wall).toFixed(0)} req/s cpu ${((used.user + used.system) / 1e4 / wall).toFixed(0)}% ${us.toFixed(1)} us/req`);
    process.exit(0);
  }, seconds * 1000);
} else if (mode === 'proxy') {
  const memberPort = Number(b);
  const sessions: { session: ClientHttp2Session; streams: number }[] = [];
  const pick = (): { session: ClientHttp2Session; streams: number } => {
    for (const s of sessions) if (s.streams < 100 && !s.session.destroyed) return s;
    const s = { session: http2.connect(`http://127.0.0.1:${memberPort}`), streams: 0 };
    s.session.on('error', () => {});
    sessions.push(s);
    return s;
  };
  const server = http2.createServer({ settings: { maxConcurrentStreams: 128 } });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    const s = pick();
    s.streams++;
    const req = s.session.request({ ':method': headers[':method'], ':path': headers[':path'], ':authority': headers[':authority'], ':scheme': 'http' }, { endStream: true });
    req.on('response', (h) => {
      if (!stream.destroyed) stream.respond({ ':status': h[':status'], 'content-length': h['content-length'], 'content-type': h['content-type'] });
    });
    req.on('data', (d: Buffer) => {
      if (!stream.destroyed) stream.write(d);
    });
    req.on('end', () => {
      if (!stream.destroyed) stream.end();
    });
    req.on('close', () => s.streams--);
    req.on('error', () => {});
    stream.on('close', () => {
      if (!req.destroyed) req.close();
    });
  });
  server.listen(Number(a), '127.0.0.1');
} else {
  console.error('usage: h2-node-floor.ts client PORT STREAMS SECONDS | proxy PORT MEMBER_PORT');
  process.exit(2);
}
