// A real server for the kernel tests, run inside a server namespace:
//   node server.ts NAME PORT [UDP-ADDRESS]
// TCP: greets each connection with `NAME\n`, then answers every line with `NAME:line\n`.
// UDP (same port): answers each datagram with `NAME:datagram`. A UDP socket on 0.0.0.0 answers
// from the address the route chooses; behind dsr it must be bound to the VIP (UDP-ADDRESS) so
// that its replies come from the address the client sent to.
// Every connection and datagram is reported on stdout as one JSON line with the peer address
// the server saw, so the test knows who reached whom, and from where.

import dgram from 'node:dgram';
import net from 'node:net';

const [name, portText, udpAddress = '0.0.0.0'] = process.argv.slice(2);
const port = Number(portText);
const report = (event: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(event) + '\n');
const plain = (address: string | undefined): string => (address ?? '').replace(/^::ffff:/, '');

const server = net.createServer((socket) => {
  socket.setTimeout(60_000, () => socket.destroy());
  socket.on('error', () => {});
  report({ event: 'tcp', peer: `${plain(socket.remoteAddress)}:${socket.remotePort}`, local: `${plain(socket.localAddress)}:${socket.localPort}` });
  socket.write(`${name}\n`);
  let buffered = '';
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    if (buffered.length > 65_536) return socket.destroy();
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      socket.write(`${name}:${buffered.slice(0, nl)}\n`);
      buffered = buffered.slice(nl + 1);
    }
  });
  socket.on('end', () => socket.end());
});
server.on('error', (err) => {
  report({ event: 'error', message: err.message });
  process.exit(1);
});

const udp = dgram.createSocket('udp4');
udp.on('error', () => {});
udp.on('message', (msg, rinfo) => {
  report({ event: 'udp', peer: `${rinfo.address}:${rinfo.port}` });
  // one-way datagrams (as syslog's) are not answered
  if (msg.toString('latin1', 0, 7) === 'oneway:') return;
  udp.send(Buffer.concat([Buffer.from(`${name}:`), msg]), rinfo.port, rinfo.address);
});

// '::' takes IPv4 and IPv6 alike (IPv4 peers are reported plain, without ::ffff:)
server.listen(port, '::', () => udp.bind(port, udpAddress, () => report({ event: 'ready' })));
process.on('SIGTERM', () => process.exit(0));
