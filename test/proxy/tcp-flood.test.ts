// Connections beyond the descriptor budget: a furiwake under a low descriptor limit closes at
// accept the tcp connections its budget has no room for (counted, logged now and then), so its
// descriptors never run out: the admin API still answers, no member is blamed, and once the
// flood's connections close, new clients are served.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import { after, it } from 'node:test';
import { greeting } from '../helpers/clients.ts';
import { describeOnEachEngine } from '../helpers/engines.ts';
import { startTcpServer } from '../helpers/servers.ts';
import { get, startLimited } from './limited-process.ts';

const FLOOD = 300;

describeOnEachEngine('a tcp flood against a process with few descriptors', () => {
  it('closes what the budget has no room for; the admin API answers; no member is blamed', async () => {
    const member = await startTcpServer('t');
    after(() => member.close());
    const fw = await startLimited('256:256', [
      'global: { log-level: info }',
      'admin: { listen: 127.0.0.1:0 }',
      'services:',
      '  tcp: { listen: 127.0.0.1:0, mode: tcp, pool: tcp }',
      'pools:',
      `  tcp: { members: [ { address: 127.0.0.1:${member.port} } ] }`,
      '',
    ].join('\n'));
    const budget = fw.events.find((e) => e.msg === 'file descriptor budget')!;
    const room = Number(budget.connections);
    assert.ok(room > 0 && room < FLOOD);
    const port = fw.port('tcp');
    const rssBefore = fw.rss();

    // FLOOD connections held open: each either gets the member's greeting or is closed at once
    const flood: net.Socket[] = [];
    const outcomes = await Promise.all(Array.from({ length: FLOOD }, () => new Promise<'greeted' | 'closed'>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      flood.push(socket);
      socket.on('error', () => {});
      socket.once('data', () => resolve('greeted'));
      socket.once('close', () => resolve('closed'));
    })));
    const greeted = outcomes.filter((o) => o === 'greeted').length;
    assert.ok(greeted <= room, `${greeted} connections held, room for ${room}`);
    assert.equal(greeted + (await fw.metric('furiwake_connections_over_budget_total')), FLOOD);
    assert.equal((await get(fw.admin, '/api/v1/services')).status, 200);
    assert.equal(await fw.metric('furiwake_descriptors_exhausted_total'), 0);
    assert.equal(await fw.metric(`furiwake_member_connect_failures_total{pool="tcp",member="127.0.0.1:${member.port}"}`), 0);
    // one line for the lot, not one per refused client (one per thread that refused: the workers
    // run by default, global.workers auto)
    const said = fw.events.filter((e) => typeof e.msg === 'string' && e.msg.startsWith('the file descriptor budget is spent')).length;
    assert.ok(said >= 1 && said <= availableParallelism(), `${said} lines`);

    for (const s of flood) s.destroy();
    await Promise.all(flood.map((s) => (s.closed ? null : once(s, 'close'))));
    // the flood's connections are gone on furiwake's side too: a new client is served
    while ((await fw.metric('furiwake_service_connections_active{service="tcp"}')) > 0);
    assert.equal(await greeting(port), 't');
    const rssAfter = fw.rss();
    process.stdout.write(`# tcp flood: ${FLOOD} connections, room ${room}, held ${greeted}, RSS ${rssBefore} kB -> ${rssAfter} kB\n`);
    await fw.stop();
  });
});
