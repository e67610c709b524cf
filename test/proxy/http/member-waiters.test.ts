// The requests a member holds when it stops serving (on-member-down reselect, the http default),
// as the member's traffic list keeps them: several at once on one member, some answered and gone
// from the list before (from its middle and its end), one whose answer has begun: the GETs still
// waiting are answered by the other member, the POST gets a 502 (it is never sent twice), the one
// being answered ends with its own member's answer, and the member comes back with nothing left
// over in its list. The same member then serves and loses requests again.

import assert from 'node:assert/strict';
import net from 'node:net';
import { it } from 'node:test';
import { startApp } from '../../helpers/app.ts';
import { pool } from '../../helpers/config.ts';
import { describeOnEachEngine } from '../../helpers/engines.ts';
import { startTcpServer } from '../../helpers/servers.ts';
import { until } from '../../helpers/wait.ts';
import { bodyOf, connection, httpConfig, raw, startMember } from './helpers.ts';

/** A member that reads requests and answers only when told: each request's line and its connection, in order. */
async function holdingMember(): Promise<{ port: number; held: { line: string; socket: net.Socket }[] }> {
  const held: { line: string; socket: net.Socket }[] = [];
  const server = await startTcpServer('held', (socket) => {
    let text = '';
    socket.on('error', () => {});
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      let end: number;
      while ((end = text.indexOf('\r\n\r\n')) !== -1) {
        const head = text.slice(0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (text.length < end + 4 + length) return;
        held.push({ line: head.slice(0, head.indexOf('\r\n')), socket });
        text = text.slice(end + 4 + length);
      }
    });
  });
  return { port: server.port, held };
}

const answer = (body: string): string => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`;

describeOnEachEngine('requests on a member that stops serving', () => {
  it('those waiting are retried or refused, those answered are not touched, and the member is clean after', async () => {
    const a = await holdingMember();
    const b = await startMember('b');
    const app = await startApp(httpConfig(pool('round-robin', [{ port: a.port, id: 'a' }, { port: b.port, id: 'b' }])));
    const port = app.address('svc').port;
    const ma = app.runtime.member('p', 'a')!;
    const mb = app.runtime.member('p', 'b')!;
    mb.setAdmin('disabled'); // every request goes to a, each on a connection of its own
    const answers = ['/1', '/2'].map((p) => raw(port, get(p)));
    const third = await connection(port); // its response head is seen on its own
    const thirdHead = third.send(get('/3'), (text) => text.includes('\r\n\r\n'));
    answers.push(...['/4', '/5'].map((p) => raw(port, get(p))));
    const post = raw(port, 'POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi');
    await until(() => a.held.length === 6);
    assert.equal(ma.traffic.size, 6);
    const at = (line: string) => a.held.find((h) => h.line.startsWith(line))!.socket;
    // /2 and /5 answered in full (out of the middle and the end of the list), /3 begun
    at('GET /2 ').write(answer('a2'));
    at('GET /5 ').write(answer('a5'));
    at('GET /3 ').write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n');
    assert.equal((await answers[1]).status, 200);
    assert.equal((await answers[3]).status, 200);
    assert.match(await thirdHead, /^HTTP\/1\.1 200 OK\r\n/);
    mb.setAdmin('enabled');
    ma.setAdmin('disabled');
    assert.equal(ma.traffic.size, 0); // (its idle member connections left with it)
    const thirdBody = third.send('', (text) => text === 'a3');
    at('GET /3 ').write('a3');
    assert.equal(await thirdBody, 'a3');
    const got = await Promise.all(answers);
    assert.deepEqual(got.map((r) => [r.status, bodyOf(r.text)]), [[200, 'b GET /1'], [200, 'a2'], [200, 'b GET /4'], [200, 'a5']]);
    const refused = await post;
    assert.equal(refused.status, 502);
    assert.match(bodyOf(refused.text), /the member stopped serving/);
    assert.deepEqual(b.requests.map((r) => `${r.method} ${r.url}`).sort(), ['GET /1', 'GET /4']);
    await third.close();
    await until(() => ma.active === 0);
    assert.equal(ma.failed, 0); // disabled, not failed

    // a serves again: requests on one keep-alive connection join and leave its list one by one
    ma.setAdmin('enabled');
    mb.setAdmin('disabled');
    const client = await connection(port);
    for (let i = 0; i < 3; i++) {
      const response = client.send(`GET /k${i} HTTP/1.1\r\nHost: h\r\n\r\n`, (text) => text.endsWith(`k${i}`));
      await until(() => a.held.length === 7 + i);
      assert.equal(a.held[6 + i].line, `GET /k${i} HTTP/1.1`);
      a.held[6 + i].socket.write(answer(`k${i}`));
      assert.match(await response, new RegExp(`k${i}$`));
    }
    // the last of them waits when a is marked down: it goes to b
    const last = client.send('GET /last HTTP/1.1\r\nHost: h\r\n\r\n', (text) => text.endsWith('b GET /last'));
    await until(() => a.held.length === 10);
    mb.setAdmin('enabled');
    ma.setHealth('down', 'test');
    assert.match(await last, /b GET \/last$/);
    assert.equal(ma.traffic.size, 0);
    await client.close();
  });
});
