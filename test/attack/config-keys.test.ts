// A config key named __proto__ (a service, a pool, a header rule, an error page) is refused with
// its path and line, in YAML and JSON alike: a JavaScript object cannot hold it as its own key,
// so it used to vanish from the config without a word (a service not started, a rule not applied).

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';

const POOL = 'pools: { p: { members: [ { address: 127.0.0.1:3 } ] } }\n';

function refusal(text: string, file = 'x.yaml'): string {
  try {
    parseConfig(text, file, {});
  } catch (err) {
    return (err as Error).message;
  }
  return 'accepted';
}

it('refuses __proto__ as a service name, a header rule and an error page, naming the path', () => {
  assert.match(refusal(`services:\n  __proto__: { listen: 127.0.0.1:1, mode: http, pool: p }\n${POOL}`), /x\.yaml:2.*services\.__proto__: "__proto__" cannot be a key/);
  assert.match(refusal(`services:\n  a: { listen: 127.0.0.1:1, mode: http, pool: p, headers: { request: { set: { __proto__: x } } } }\n${POOL}`), /services\.a\.headers\.request\.set\.__proto__: "__proto__" cannot be a key/);
  assert.match(refusal(`services:\n  a: { listen: 127.0.0.1:1, mode: http, pool: p, error-pages: { __proto__: { body: x } } }\n${POOL}`), /services\.a\.error-pages\.__proto__: "__proto__" cannot be a key/);
  assert.match(refusal(`{ "services": { "__proto__": { "listen": "127.0.0.1:1", "mode": "http", "pool": "p" } }, "pools": { "p": { "members": [ { "address": "127.0.0.1:3" } ] } } }`, 'x.json'), /"__proto__" cannot be a key/);
  // spelled with escapes: the text never says __proto__, the key still is
  assert.match(refusal(`services:\n  "\\x5f_proto__": { listen: 127.0.0.1:1, mode: http, pool: p }\n${POOL}`), /x\.yaml:2.*services\.__proto__: "__proto__" cannot be a key/);
  assert.match(refusal(`{ "services": { "\\u005f_proto__": { "listen": "127.0.0.1:1", "mode": "http", "pool": "p" } }, "pools": { "p": { "members": [ { "address": "127.0.0.1:3" } ] } } }`, 'x.json'), /"__proto__" cannot be a key/);
  // other names that are Object.prototype's own are ordinary keys
  assert.equal(refusal(`services:\n  constructor: { listen: 127.0.0.1:1, mode: http, pool: p }\n${POOL}`), 'accepted');
});
