// The least a Node tcp balancer on libuv's stream handles spends per connection: a bare relay on
// the same Node TCP handles furiwake's "handles" engine uses (process.binding('tcp_wrap')), with
// nothing else to do. It accepts, connects to one member, pipes both ways (a read written on at
// once from one shared buffer), passes each side's FIN on, and closes a connection when both
// sides have finished. No member choice, no limits, no timers, no connection table, no logs.
// bench/tcp-floor.sh runs it beside HAProxy `mode tcp` and furiwake `mode: tcp` in one run: the
// gap between HAProxy and this relay is what Node and libuv cost, the gap between the relay and
// furiwake is what furiwake adds.
//
//   node bench/tcp-floor.ts LISTEN_PORT MEMBER_PORT [batch]   (both on 127.0.0.1; SIGTERM stops it)
//
// `batch`: each read is copied and its write held until the end of the event loop's turn
// (setImmediate), and so are the FINs passed on, so the writes of every connection served in a
// turn leave together, as HAProxy does its sends after its poll: whether the peers' wake-ups
// fall when their data comes in bursts, and what that is worth against the copy.

interface Handle {
  side: Side;
  onread: (this: Handle) => Buffer | undefined;
  onconnection: (err: number, client?: Handle) => void;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buffer: Uint8Array): void;
  writeBuffer(req: object, data: Uint8Array): number;
  shutdown(req: object): number;
  close(callback?: () => void): void;
  setNoDelay(on: boolean): number;
  bind(address: string, port: number, flags: number): number;
  listen(backlog: number): number;
  connect(req: object, address: string, port: number): number;
}

type Binding = (name: string) => unknown;
const binding = (process as unknown as { binding: Binding }).binding;
const { TCP, TCPConnectWrap, constants } = binding('tcp_wrap') as { TCP: new (type: number) => Handle; TCPConnectWrap: new () => { oncomplete: (status: number) => void }; constants: Record<string, number> };
const { WriteWrap, ShutdownWrap, streamBaseState: state, kReadBytesOrError, kLastWriteWasAsync } = binding('stream_wrap') as {
  WriteWrap: new () => { oncomplete: (status: number) => void; side: Side | null; chunk: Buffer | null };
  ShutdownWrap: new () => object;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kLastWriteWasAsync: number;
};
const { UV_EOF } = binding('uv') as Record<string, number>;

const [listenPort, memberPort] = process.argv.slice(2, 4).map(Number);
const batch = process.argv[4] === 'batch';
if (!(listenPort! >= 0 && memberPort! > 0)) {
  console.error('usage: node bench/tcp-floor.ts LISTEN_PORT MEMBER_PORT');
  process.exit(2);
}

/** Where every read lands; a read whose write has to wait moves its side to a buffer of its own. */
const SHARED = Buffer.allocUnsafeSlow(64 * 1024);

/** One direction's reader: `peer` is the side its bytes are written to. */
class Side {
  readonly handle: Handle;
  peer!: Side;
  readEnded = false;
  closed = false;
  constructor(handle: Handle) {
    this.handle = handle;
    handle.side = this;
    handle.onread = onRead;
    handle.useUserBuffer(SHARED);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close();
  }
}

function onRead(this: Handle): Buffer | undefined {
  const side = this.side;
  const n = state[kReadBytesOrError]!;
  if (n > 0) return relay(side, n);
  if (n === UV_EOF) {
    side.readEnded = true;
    const peer = side.peer;
    // Both have sent their FIN: close (ours went on already). Else ours goes on to the other
    // side (a shutdown with no callback: nothing waits for it; a failure shows as a read error).
    if (peer.readEnded) return closeBoth(side), undefined;
    if (batch) return hold(peer, null), undefined;
    if (peer.handle.shutdown(new ShutdownWrap()) !== 0) closeBoth(side);
    return undefined;
  }
  closeBoth(side);
  return undefined;
}

let spare: InstanceType<typeof WriteWrap> | null = null;

/** batch: the writes (a chunk, or null for a FIN) held until the turn's end, in order */
let held: { to: Side; chunk: Buffer | null }[] = [];

function hold(to: Side, chunk: Buffer | null): void {
  if (held.push({ to, chunk }) === 1) setImmediate(flush);
}

function flush(): void {
  const writes = held;
  held = [];
  for (const { to, chunk } of writes) {
    if (to.closed) continue;
    if (chunk === null) {
      if (to.handle.shutdown(new ShutdownWrap()) !== 0) closeBoth(to);
    } else {
      const req = (spare ??= newWrite());
      if (to.handle.writeBuffer(req, chunk) !== 0) closeBoth(to);
      else if (state[kLastWriteWasAsync] !== 0) spare = null; // (its bytes are its own: nothing to stop)
    }
  }
}

function relay(side: Side, n: number): Buffer | undefined {
  const peer = side.peer;
  if (peer.closed) return undefined;
  if (batch) return hold(peer, Buffer.from(SHARED.subarray(0, n))), undefined;
  const chunk = SHARED.subarray(0, n);
  const req = (spare ??= newWrite());
  if (peer.handle.writeBuffer(req, chunk) !== 0) return closeBoth(side), undefined;
  if (state[kLastWriteWasAsync] === 0) return undefined;
  // the kernel did not take it all: libuv keeps pointing at these bytes until it has. Reading
  // stops until then, and the next reads land in a buffer of this side's own.
  spare = null;
  req.side = side;
  req.chunk = chunk;
  side.handle.readStop();
  return Buffer.allocUnsafeSlow(64 * 1024);
}

function newWrite(): InstanceType<typeof WriteWrap> {
  const req = new WriteWrap();
  req.oncomplete = onWritten;
  req.side = null;
  req.chunk = null;
  return req;
}

function onWritten(this: InstanceType<typeof WriteWrap>, status: number): void {
  const side = this.side!;
  this.side = null;
  this.chunk = null;
  if (status < 0) return closeBoth(side);
  if (!side.closed && !side.readEnded) side.handle.readStart();
}

function closeBoth(side: Side): void {
  side.close();
  side.peer.close();
}

function onConnected(this: { client: Side; member: Side }, status: number): void {
  const { client, member } = this;
  if (status < 0 || client.closed) return closeBoth(client);
  member.handle.setNoDelay(true);
  client.handle.readStart();
  member.handle.readStart();
}

const server = new TCP(constants.SERVER!);
if (server.bind('127.0.0.1', listenPort!, 0) !== 0 || server.listen(1024) !== 0) {
  console.error(`tcp-floor: cannot listen on 127.0.0.1:${listenPort}`);
  process.exit(1);
}
server.onconnection = (err, handle) => {
  if (err !== 0 || handle === undefined) return;
  handle.setNoDelay(true);
  const client = new Side(handle);
  const member = new Side(new TCP(constants.SOCKET!));
  client.peer = member;
  member.peer = client;
  const req = Object.assign(new TCPConnectWrap(), { client, member });
  req.oncomplete = onConnected;
  if (member.handle.connect(req, '127.0.0.1', memberPort!) !== 0) closeBoth(client);
};
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
