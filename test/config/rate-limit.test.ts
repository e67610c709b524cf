// The key rate-limit, on a service and on an http route: rates per second, minute or hour, the
// burst's default, keys by client or header, masks and table size; what each place may not say,
// and connections as max-connections-per-client; every mistake named by its path.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { onlyIssue, withService } from './refused.ts';

const http = (limit: string) => withService(`{ listen: 127.0.0.1:8080, mode: http, pool: web, rate-limit: ${limit} }`);
const tcp = (limit: string) => withService(`{ listen: 127.0.0.1:8080, mode: tcp, pool: web, rate-limit: ${limit} }`);
const www = (text: string) => parseConfig(text, 'test.yaml', {}).services.www;

describe('rate-limit', () => {
  it('reads requests and burst, with the defaults', () => {
    assert.deepEqual(www(http('{ requests: 100/s, burst: 200 }')).rateLimit, {
      requests: 0.1, burst: 200, connectionRate: 0, connectionBurst: 0, by: { kind: 'client' }, ipv4Mask: 32, ipv6Mask: 64, tableSize: 65_536,
    });
    // the burst is a second of the rate when not given, at least 1
    assert.equal(www(http('{ requests: 10/s }')).rateLimit!.burst, 10);
    assert.equal(www(http('{ requests: 60/m }')).rateLimit!.burst, 1);
    assert.equal(www(http('{ requests: 7200/h }')).rateLimit!.requests, 0.002);
    assert.equal(www(http('{ requests: 0.5/s }')).rateLimit!.requests, 0.0005);
  });

  it('keys by a header, written two ways', () => {
    assert.deepEqual(www(http('{ requests: 1/s, by: header X-Api-Key }')).rateLimit!.by, { kind: 'header', name: 'x-api-key' });
    assert.deepEqual(www(http('{ requests: 1/s, by: { header: X-Api-Key } }')).rateLimit!.by, { kind: 'header', name: 'x-api-key' });
  });

  it('reads connections as max-connections-per-client, and connection-rate on tcp', () => {
    const s = www(tcp('{ connections: 10, connection-rate: 20/s, ipv4-mask: 24, ipv6-mask: 48, table-size: 1000 }'));
    assert.equal(s.maxConnectionsPerClient, 10);
    assert.deepEqual(s.rateLimit, { requests: 0, burst: 0, connectionRate: 0.02, connectionBurst: 20, by: { kind: 'client' }, ipv4Mask: 24, ipv6Mask: 48, tableSize: 1000 });
    // only connections: no rate to count
    const c = www(tcp('{ connections: 3 }'));
    assert.equal(c.maxConnectionsPerClient, 3);
    assert.equal(c.rateLimit, undefined);
    assert.equal(www(http('{ requests: 1/s }')).maxConnectionsPerClient, 0);
  });

  it('reads a route\'s rate-limit', () => {
    const s = www(withService('{ listen: 127.0.0.1:8080, mode: http, pool: web, routes: [ { name: api, match: { path-prefix: /api/ }, pool: web, rate-limit: { requests: 5/s, burst: 10 } } ] }'));
    assert.deepEqual(s.http!.routes[0].rateLimit, { requests: 0.005, burst: 10, connectionRate: 0, connectionBurst: 0, by: { kind: 'client' }, ipv4Mask: 32, ipv6Mask: 64, tableSize: 65_536 });
  });

  it('names the path of a mistake', () => {
    assert.deepEqual(onlyIssue(http('{ requests: 100 }')), ['services.www.rate-limit.requests', 'expected a rate like 100/s, 600/m or 20/h, got 100']);
    assert.equal(onlyIssue(http('{ requests: 0/s }'))[0], 'services.www.rate-limit.requests');
    assert.equal(onlyIssue(http('{ requests: 2000000/s }'))[0], 'services.www.rate-limit.requests');
    assert.deepEqual(onlyIssue(http('{ burst: 5 }')), ['services.www.rate-limit.burst', 'burst is the size of the requests bucket; set requests too (like requests: 100/s)']);
    assert.equal(onlyIssue(http('{ requests: 1/s, by: cookie }'))[0], 'services.www.rate-limit.by');
    assert.equal(onlyIssue(http('{ requests: 1/s, by: header "a b" }'))[0], 'services.www.rate-limit.by');
    assert.equal(onlyIssue(http('{ requests: 1/s, ipv4-mask: 33 }'))[0], 'services.www.rate-limit.ipv4-mask');
    assert.equal(onlyIssue(http('{ requests: 1/s, table-size: 2 }'))[0], 'services.www.rate-limit.table-size');
    assert.deepEqual(onlyIssue(http('{ requests: 1/s, bursts: 2 }')), ['services.www.rate-limit.bursts', 'unknown key "bursts"; did you mean "burst"?']);
    assert.deepEqual(onlyIssue(http('{ ipv4-mask: 24 }')), ['services.www.rate-limit', 'rate-limit needs requests, connections or connection-rate']);
    assert.deepEqual(onlyIssue(tcp('{ requests: 1/s, connections: 1 }')), ['services.www.rate-limit.requests', 'requests limits http requests; a tcp service limits connections (connections, connection-rate)']);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:8080, mode: udp, pool: web, rate-limit: { requests: 1/s } }')), ['services.www.rate-limit', 'rate-limit applies to the clients of tcp and http services; this service is udp']);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:8080, mode: tcp, pool: web, max-connections-per-client: 2, rate-limit: { connections: 3 } }')),
      ['services.www.rate-limit.connections', 'rate-limit.connections and max-connections-per-client are the same setting; keep one']);
    assert.deepEqual(onlyIssue(withService('{ listen: 127.0.0.1:8080, mode: http, pool: web, routes: [ { name: api, pool: web, match: { path: /a }, rate-limit: { requests: 1/s, connections: 2 } } ] }')),
      ['services.www.routes[0].rate-limit.connections', "a route limits the requests it takes (requests, burst, by); connections limits a client's connections, on the service"]);
  });
});
