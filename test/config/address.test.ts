import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatAddress, parseAddress, uriHost } from '../../src/config/address.ts';

const member = { allowPortZero: false };
const listener = { allowPortZero: true };

describe('parseAddress', () => {
  it('reads IPv4, hostnames and bracketed IPv6; IP literals carry their ip', () => {
    assert.deepEqual(parseAddress('10.0.0.1:80', member), { ok: true, value: { host: '10.0.0.1', port: 80, ip: '10.0.0.1' } });
    assert.deepEqual(parseAddress('db-1.internal:5432', member), { ok: true, value: { host: 'db-1.internal', port: 5432 } });
    assert.deepEqual(parseAddress('[2001:db8::1]:443', member), { ok: true, value: { host: '2001:db8::1', port: 443, ip: '2001:db8::1' } });
    assert.deepEqual(parseAddress('[::]:53', listener), { ok: true, value: { host: '::', port: 53, ip: '::' } });
    assert.deepEqual(parseAddress('my_service:80', member), { ok: true, value: { host: 'my_service', port: 80 } });
  });

  it('allows port 0 for listeners only', () => {
    assert.deepEqual(parseAddress('127.0.0.1:0', listener), { ok: true, value: { host: '127.0.0.1', port: 0, ip: '127.0.0.1' } });
    assert.deepEqual(parseAddress('127.0.0.1:0', member), { ok: false, message: 'expected a port from 1 to 65535, got "0"' });
  });

  it('says what was expected and what was found', () => {
    const cases: [unknown, string][] = [
      ['10.0.0.1', 'expected host:port (IPv6 in brackets), got "10.0.0.1"'],
      [8080, 'expected host:port (IPv6 in brackets), got 8080'],
      [undefined, 'missing; expected host:port (IPv6 in brackets)'],
      ['2001:db8::1:80', 'expected host:port with an IPv6 host in brackets, like [2001:db8::1]:80, got "2001:db8::1:80"'],
      ['[10.0.0.1]:80', 'expected an IPv6 address inside the brackets, got "[10.0.0.1]:80"'],
      ['[::1]', 'expected host:port (IPv6 in brackets), got "[::1]"'],
      ['10.0.0.1:65536', 'expected a port from 1 to 65535, got "65536"'],
      ['10.0.0.1:http', 'expected a port from 1 to 65535, got "http"'],
      ['10.0.0.1:', 'expected a port from 1 to 65535, got ""'],
      ['300.1.1.1:80', 'expected an IPv4 address or a hostname, got "300.1.1.1"'],
      ['exa mple.com:80', 'expected an IPv4 address or a hostname, got "exa mple.com"'],
      ['-bad.example:80', 'expected an IPv4 address or a hostname, got "-bad.example"'],
      [':80', 'expected host:port (IPv6 in brackets), got ":80" (0.0.0.0:80 listens on every IPv4 address)'],
    ];
    for (const [input, message] of cases) assert.deepEqual(parseAddress(input, member), { ok: false, message }, String(input));
  });
});

describe('formatAddress', () => {
  it('brackets IPv6 hosts only', () => {
    assert.equal(formatAddress({ host: '10.0.0.1', port: 80 }), '10.0.0.1:80');
    assert.equal(formatAddress({ host: '::1', port: 80 }), '[::1]:80');
    assert.equal(formatAddress({ host: 'example.com', port: 443, ip: '192.0.2.1' }), 'example.com:443');
  });
});

describe('uriHost', () => {
  it('brackets IPv6 literals only, with no port (a URI or Host header)', () => {
    assert.equal(uriHost('2001:db8::1'), '[2001:db8::1]');
    assert.equal(uriHost('192.0.2.1'), '192.0.2.1');
    assert.equal(uriHost('example.com'), 'example.com');
  });
});
