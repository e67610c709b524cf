// What the stateless url and hash methods read out of a request: a member id carried in the URL
// (path parameter with a separator, query parameter, path segment) and a key to hash (query,
// header, cookie, path segment); bounds, decoding and requests that carry nothing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashKeyOf } from '../../src/persistence/hash.ts';
import { pathParameter, pathSegment, queryParameter } from '../../src/persistence/request-target.ts';
import { memberIdFromUrl, type UrlRule } from '../../src/persistence/url.ts';

const jsessionid: UrlRule = { source: 'path-parameter', name: 'jsessionid', segment: null, separator: '.' };

describe('url: the member id in the URL', () => {
  it('path parameter: the route after the last separator (;jsessionid=ABC.s2)', () => {
    assert.equal(memberIdFromUrl('/cart;jsessionid=ABC123.s2', jsessionid), 's2');
    assert.equal(memberIdFromUrl('/cart;jsessionid=ABC.123.s2?item=4', jsessionid), 's2');
    assert.equal(memberIdFromUrl('/shop;jsessionid=ABC.s2/cart', jsessionid), 's2');
    assert.equal(memberIdFromUrl('/cart;v=1;jsessionid=ABC.s2', jsessionid), 's2');
  });

  it('path parameter: nothing without the parameter, without the separator, or with an empty route', () => {
    assert.equal(memberIdFromUrl('/cart', jsessionid), undefined);
    assert.equal(memberIdFromUrl('/cart;jsessionid=ABC123', jsessionid), undefined);
    assert.equal(memberIdFromUrl('/cart;jsessionid=ABC.', jsessionid), undefined);
    assert.equal(memberIdFromUrl('/cart?jsessionid=ABC.s2', jsessionid), undefined); // a query, not a path parameter
    assert.equal(memberIdFromUrl('/cart;jsessionidx=ABC.s2', jsessionid), undefined);
  });

  it('path parameter without a separator: the whole value', () => {
    assert.equal(memberIdFromUrl('/a;route=s3/b', { ...jsessionid, name: 'route', separator: '' }), 's3');
  });

  it('query parameter, decoded', () => {
    const rule: UrlRule = { source: 'query', name: 'srv', segment: null, separator: '' };
    assert.equal(memberIdFromUrl('/page?a=1&srv=s2&b=2', rule), 's2');
    assert.equal(memberIdFromUrl('/page?srv=web%2D1', rule), 'web-1');
    assert.equal(memberIdFromUrl('/page?srv=', rule), undefined);
    assert.equal(memberIdFromUrl('/page?server=s2', rule), undefined);
    assert.equal(memberIdFromUrl('/page#srv=s2', rule), undefined);
    assert.equal(memberIdFromUrl('/page?srv=%E0%A4%A', rule), undefined); // bad percent-encoding
    assert.equal(memberIdFromUrl('/page?sid=abc-s2', { ...rule, name: 'sid', separator: '-' }), 's2');
  });

  it('path segment', () => {
    const rule: UrlRule = { source: 'path-segment', name: null, segment: 1, separator: '' };
    assert.equal(memberIdFromUrl('/s2/app/page', rule), 's2');
    assert.equal(memberIdFromUrl('//s2/app', rule), 's2');
    assert.equal(memberIdFromUrl('/s2;x=1/app', rule), 's2');
    assert.equal(memberIdFromUrl('/app/s3?x=1', { ...rule, segment: 2 }), 's3');
    assert.equal(memberIdFromUrl('/app', { ...rule, segment: 2 }), undefined);
    assert.equal(memberIdFromUrl('/', rule), undefined);
  });

  it('ignores ids longer than a member id can be, and targets beyond the bound', () => {
    assert.equal(memberIdFromUrl(`/${'x'.repeat(65)}`, { source: 'path-segment', name: null, segment: 1, separator: '' }), undefined);
    assert.equal(memberIdFromUrl(`/cart;jsessionid=A.s2?${'q'.repeat(9000)}`, jsessionid), undefined);
  });
});

describe('hash: the key a request carries', () => {
  const request = (target: string, headers: Record<string, string> = {}) => ({ target, header: (name: string) => headers[name] });

  it('from a query parameter, + and %-decoded', () => {
    const rule = { source: 'query', name: 'user', segment: null } as const;
    assert.equal(hashKeyOf(request('/cart?user=alice'), rule), 'alice');
    assert.equal(hashKeyOf(request('/cart?user=alice+smith'), rule), 'alice smith');
    assert.equal(hashKeyOf(request('/cart?user=%E5%B1%B1'), rule), '山');
    assert.equal(hashKeyOf(request('/cart?user='), rule), undefined);
    assert.equal(hashKeyOf(request('/cart'), rule), undefined);
  });

  it('from a header', () => {
    const rule = { source: 'header', name: 'x-user-id', segment: null } as const;
    assert.equal(hashKeyOf(request('/', { 'x-user-id': '42' }), rule), '42');
    assert.equal(hashKeyOf(request('/', {}), rule), undefined);
  });

  it('from a cookie', () => {
    const rule = { source: 'cookie', name: 'uid', segment: null } as const;
    assert.equal(hashKeyOf(request('/', { cookie: 'theme=dark; uid=u-7' }), rule), 'u-7');
    assert.equal(hashKeyOf(request('/', { cookie: 'theme=dark' }), rule), undefined);
  });

  it('from a path segment', () => {
    const rule = { source: 'path-segment', name: null, segment: 2 } as const;
    assert.equal(hashKeyOf(request('/users/alice/cart'), rule), 'alice');
    assert.equal(hashKeyOf(request('/users'), rule), undefined);
  });

  it('cuts a long key to a bound, still the same key for the same value', () => {
    const rule = { source: 'header', name: 'x-user', segment: null } as const;
    const key = hashKeyOf(request('/', { 'x-user': 'k'.repeat(1000) }), rule)!;
    assert.equal(key.length, 256);
  });
});

describe('request-target pieces', () => {
  it('read the first occurrence and stop at the fragment', () => {
    assert.equal(queryParameter('/p?a=1&a=2', 'a'), '1');
    assert.equal(queryParameter('/p?flag&a=1', 'flag'), '');
    assert.equal(queryParameter('/p?a=1#a=2', 'a'), '1');
    assert.equal(pathParameter('/a;x=1/b;x=2', 'x'), '1');
    assert.equal(pathSegment('/a+b/c', 1), 'a+b'); // + is a space only in a query
    assert.equal(pathSegment('/a%20b', 1), 'a b');
  });
});
