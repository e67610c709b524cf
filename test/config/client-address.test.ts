// accept-proxy (tcp, http) and trusted-proxies (http): who the client is behind another balancer.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { onlyIssue, withService } from './refused.ts';

describe('client address config', () => {
  it('accepts accept-proxy on tcp and http, refuses it elsewhere and on https', () => {
    const tcp = parseConfig(withService('{ listen: 127.0.0.1:8080, mode: tcp, pool: web, accept-proxy: true }'), 'a.yaml', {});
    assert.equal(tcp.services.www.acceptProxy, true);
    const [path, message] = onlyIssue(withService('{ listen: 127.0.0.1:8080, mode: udp, pool: web, accept-proxy: true }'));
    assert.equal(path, 'services.www.accept-proxy');
    assert.match(message, /only tcp and http services/);
  });

  it('normalizes trusted-proxies and refuses what is not an address or a network', () => {
    const http = parseConfig(withService('{ listen: 127.0.0.1:8080, mode: http, pool: web, trusted-proxies: [ 10.0.0.0/8, 192.0.2.1, "2001:db8::/32" ] }'), 'h.yaml', {});
    assert.deepEqual(http.services.www.http!.trustedProxies, ['10.0.0.0/8', '192.0.2.1/32', '2001:db8::/32']);
    const [path] = onlyIssue(withService('{ listen: 127.0.0.1:8080, mode: http, pool: web, trusted-proxies: [ 10.0.0.0/99 ] }'));
    assert.equal(path, 'services.www.trusted-proxies[0]');
    assert.equal(onlyIssue(withService('{ listen: 127.0.0.1:8080, mode: tcp, pool: web, trusted-proxies: [ 10.0.0.0/8 ] }'))[0], 'services.www.trusted-proxies');
  });
});
