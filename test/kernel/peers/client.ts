// The client agent for the kernel tests, run inside the client namespace. The test, which runs
// outside, sends it one JSON command per line on stdin and reads one JSON answer per line:
//   {"id":1,"op":"connect","host":"10.88.2.100","port":80,"from":"10.88.1.11"}
//       -> {"id":1,"ok":true,"line":"s1","local":"10.88.1.11:40000","remote":"10.88.2.100:80"}
//   {"id":2,"op":"send","conn":1,"text":"hello"}      -> {"id":2,"ok":true,"line":"s1:hello"}
//   {"id":3,"op":"end","conn":1}                      -> {"id":3,"ok":true,"ending":"end"}
//   {"id":4,"op":"udp","host":"10.88.2.100","port":53,"text":"hi"}
//       -> {"id":4,"ok":true,"text":"s2:hi","from":"10.88.2.100:53"}
// A connection that the peer resets or closes is reported by the command that finds out.

import dgram from 'node:dgram';
import net from 'node:net';
import { createInterface } from 'node:readline';

const TIMEOUT = 5_000;

interface Command { id: number; op: string; host?: string; port?: number; from?: string; conn?: number; text?: string }
interface Conn { socket: net.Socket; lines: string[]; waiting: ((line: string | Error) => void) | null; closed: Error | null; ended: Promise<'end' | 'reset'> }

const conns = new Map<number, Conn>();
const answer = (id: number, body: Record<string, unknown>): void => void process.stdout.write(JSON.stringify({ id, ...body }) + '\n');

function nextLine(conn: Conn): Promise<string> {
  const line = conn.lines.shift();
  if (line !== undefined) return Promise.resolve(line);
  if (conn.closed !== null) return Promise.reject(conn.closed);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      conn.waiting = null;
      reject(new Error('timeout waiting for a line'));
    }, TIMEOUT);
    conn.waiting = (value) => {
      clearTimeout(timer);
      conn.waiting = null;
      if (value instanceof Error) reject(value);
      else resolve(value);
    };
  });
}

function connect(c: Command): Promise<Record<string, unknown>> {
  const socket = net.connect({ host: c.host!, port: c.port!, localAddress: c.from, allowHalfOpen: true });
  socket.setTimeout(TIMEOUT * 6, () => socket.destroy(new Error('idle')));
  let buffered = '';
  let settle: (ending: 'end' | 'reset') => void = () => {};
  const conn: Conn = { socket, lines: [], waiting: null, closed: null, ended: new Promise((resolve) => (settle = resolve)) };
  conns.set(c.id, conn);
  const fail = (err: Error): void => {
    conn.closed ??= err;
    conn.waiting?.(err);
  };
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (conn.waiting !== null) conn.waiting(line);
      else conn.lines.push(line);
    }
  });
  socket.on('end', () => {
    settle('end');
    fail(new Error('closed by the peer'));
    socket.end();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    settle('reset');
    fail(new Error(err.code ?? err.message));
  });
  socket.on('close', () => settle('reset'));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      nextLine(conn).then(
        (line) => resolve({ line, local: `${socket.localAddress}:${socket.localPort}`, remote: `${socket.remoteAddress}:${socket.remotePort}` }),
        reject,
      );
    });
    socket.once('error', reject);
  });
}

async function send(c: Command): Promise<Record<string, unknown>> {
  const conn = conns.get(c.conn!);
  if (conn === undefined) throw new Error(`no connection ${c.conn}`);
  conn.socket.write(`${c.text}\n`);
  return { line: await nextLine(conn) };
}

async function end(c: Command): Promise<Record<string, unknown>> {
  const conn = conns.get(c.conn!);
  if (conn === undefined) throw new Error(`no connection ${c.conn}`);
  conn.socket.end();
  const timer = setTimeout(() => conn.socket.destroy(), TIMEOUT);
  const ending = await conn.ended;
  clearTimeout(timer);
  conns.delete(c.conn!);
  return { ending };
}

function udp(c: Command): Promise<Record<string, unknown>> {
  const socket = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('timeout waiting for a datagram'));
    }, TIMEOUT);
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.on('message', (msg, rinfo) => {
      clearTimeout(timer);
      socket.close();
      resolve({ text: msg.toString(), from: `${rinfo.address}:${rinfo.port}` });
    });
    socket.bind(0, c.from, () => socket.send(c.text ?? '', c.port!, c.host!));
  });
}

const ops: Record<string, (c: Command) => Promise<Record<string, unknown>>> = { connect, send, end, udp };

createInterface({ input: process.stdin }).on('line', (text) => {
  let c: Command;
  try {
    c = JSON.parse(text) as Command;
  } catch {
    return;
  }
  const op = ops[c.op];
  if (op === undefined) return answer(c.id, { ok: false, error: `unknown op ${c.op}` });
  op(c).then(
    (body) => answer(c.id, { ok: true, ...body }),
    (err: Error) => answer(c.id, { ok: false, error: err.message }),
  );
}).on('close', () => process.exit(0));
answer(0, { ok: true, ready: true });
