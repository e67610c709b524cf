// A long download, for the HA tests: a server that streams slowly and a client that checks it.
//   node slow-stream.ts server NAME PORT   streams to each connection 1 KiB every 10 ms, byte k
//                                          being k % 251, until a line `finish` on stdin: then it
//                                          ends each stream and reports what it sent
//   node slow-stream.ts client HOST PORT   downloads from HOST:PORT, checks every byte, and
//                                          reports its progress every 16 KiB and how it ended
//   node slow-stream.ts udp HOST PORT      one udp flow: each line on stdin is sent to HOST:PORT
//                                          from the same socket, each answer reported
// Reports are JSON lines on stdout.

import dgram from 'node:dgram';
import net from 'node:net';
import { createInterface } from 'node:readline';

const [role, a, b] = process.argv.slice(2);
const report = (event: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(event) + '\n');
const CHUNK = 1024;
const PERIOD = 10;
const PROGRESS = 16 * 1024;

if (role === 'server') {
  const name = a;
  const streams = new Set<() => void>();
  net.createServer((socket) => {
    socket.on('error', () => {});
    report({ event: 'connection', server: name, peer: `${socket.remoteAddress}:${socket.remotePort}` });
    let sent = 0;
    const timer = setInterval(() => {
      // a peer that does not read (the path is down) is not buffered for without end
      if (socket.writableNeedDrain) return;
      // a buffer of its own each time: a write the socket has queued (the path stalls at a
      // failover) still holds its buffer, which a reused one would overwrite
      const chunk = Buffer.allocUnsafe(CHUNK);
      for (let i = 0; i < CHUNK; i++) chunk[i] = (sent + i) % 251;
      sent += CHUNK;
      socket.write(chunk);
    }, PERIOD);
    const finish = (): void => {
      clearInterval(timer);
      socket.end(() => report({ event: 'finished', server: name, sent }));
    };
    streams.add(finish);
    socket.on('close', () => {
      clearInterval(timer);
      streams.delete(finish);
    });
  }).listen(Number(b), () => report({ event: 'ready', server: name }));
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'finish') for (const finish of streams) finish();
  });
} else if (role === 'udp') {
  const socket = dgram.createSocket('udp4');
  socket.on('error', (err) => report({ event: 'error', message: err.message }));
  socket.on('message', (msg, rinfo) => report({ event: 'reply', text: msg.toString(), from: `${rinfo.address}:${rinfo.port}` }));
  socket.bind(0, () => {
    report({ event: 'ready', local: socket.address().port });
    createInterface({ input: process.stdin }).on('line', (line) => socket.send(line, Number(b), a));
  });
} else {
  let got = 0;
  let inOrder = true;
  let next = PROGRESS;
  const socket = net.connect({ host: a, port: Number(b) });
  socket.on('connect', () => report({ event: 'connected', local: `${socket.localAddress}:${socket.localPort}` }));
  socket.on('data', (data: Buffer) => {
    for (let i = 0; i < data.length; i++) if (data[i] !== (got + i) % 251) inOrder = false;
    got += data.length;
    if (got >= next) {
      report({ event: 'progress', got, inOrder });
      next += PROGRESS;
    }
  });
  socket.on('end', () => report({ event: 'end', got, inOrder }));
  socket.on('error', (err) => report({ event: 'error', message: err.message, got, inOrder }));
  socket.on('close', () => process.exit(0));
}
