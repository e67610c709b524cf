// The config loader on hostile text: an alias bomb is refused at once with a clear message,
// and mutated versions of the example configs (YAML and JSON) each give a Config or a
// ConfigError listing problems with their paths — never another exception, never a hang.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseConfig } from '../../src/config/load.ts';
import { fuzz, fuzzCount } from '../helpers/fuzz.ts';

const root = fileURLToPath(new URL('../../examples/', import.meta.url));
/** the examples without their comments: the parser's time goes to what mutations can change */
const SEEDS = readdirSync(root).filter((n) => /\.ya?ml$/.test(n)).sort()
  .map((n) => Buffer.from(readFileSync(root + n, 'utf8').split('\n').filter((l) => !/^\s*(#|$)/.test(l)).join('\n') + '\n'));
const env = { LISTEN_ADDR: '0.0.0.0', APP_WEIGHT: '3', LOG_HOST: '10.2.0.2', RADIUS_SECRET: 'radius-secret', PROBE_PASSWORD: 'probe-password', FURIWAKE_COOKIE_SECRET: 'cookie-secret-of-length', FURIWAKE_ADMIN_TOKEN: 'an-admin-token-of-some-length' };

/** YAML's syntax and the config's own words: mutations that reach past the parser. */
const DICTIONARY = [
  ': ', '- ', '\n  ', '\n- ', '{ ', ' }', '[ ', ' ]', ', ', '&a ', '*a', '<<: *a', '!!str ', '!!int ', '!!binary ', '!custom ', '? ', '|\n', '>-\n', '---\n', '...\n', '#', '"', "'", '\\u0000', '\t',
  '${LISTEN_ADDR}', '${UNSET}', '${', '$${X}', '~', 'null', 'true', 'yes', '0x1F', '1e400', '-1', '65536', '99999999999999999999', '.inf', '.nan', '2s', '500ms', '5m', '0s',
  '__proto__', 'constructor', 'listen', 'mode', 'pool', 'pools', 'services', 'members', 'address', 'weight', 'algorithm', 'health', 'monitors', 'type', 'admin', 'token', 'persistence',
  'global', 'tls', 'certificates', 'routes', '127.0.0.1:80', '[::1]:80', '[fe80::1%eth0]:80', '0.0.0.0:0', '256.1.1.1:80', 'localhost:65535', ':80', 'http', 'tcp', 'udp', 'nat', 'dsr',
];

function checkResult(text: string, file: string): 'config' | 'refused' {
  let config;
  try {
    config = parseConfig(text, file, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `threw ${(err as Error)?.stack ?? String(err)}`);
    assert.ok(err.issues.length > 0);
    for (const issue of err.issues) {
      assert.equal(typeof issue.path, 'string');
      assert.ok(typeof issue.message === 'string' && issue.message.length > 0, JSON.stringify(issue));
      assert.equal(issue.file, file);
    }
    assert.equal(typeof err.format(), 'string');
    return 'refused';
  }
  assert.equal(typeof config.services, 'object');
  assert.equal(typeof config.pools, 'object');
  return 'config';
}

describe('config loader: hostile text', () => {
  it('refuses an alias bomb (billion laughs) at once, with a clear message', () => {
    let text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
    for (let i = 1; i < 9; i++) {
      const [name, prev] = [String.fromCharCode(97 + i), String.fromCharCode(96 + i)];
      text += `${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]\n`;
    }
    text += 'services: *i\npools: {}\n';
    const err = (() => {
      try {
        parseConfig(text, 'bomb.yaml', {});
      } catch (e) {
        return e;
      }
    })();
    assert.ok(err instanceof ConfigError, String(err));
    assert.match(err.issues[0].message, /^the aliases \(\*name\) expand to too much/);
    // a few aliases are fine
    assert.equal(checkResult('services: { s: { listen: 127.0.0.1:80, mode: tcp, pool: p } }\npools: { p: &p { members: [ { address: 10.0.0.1:80 } ] }, q: *p }\n', 'ok.yaml'), 'config');
  });

  it(`fuzz: ${fuzzCount(3_000)} mutated example configs give a config or errors with paths`, () => {
    const outcomes = { config: 0, refused: 0 };
    fuzz(0xc0f1, fuzzCount(3_000), (f) => f.mutate(f.pick(SEEDS), DICTIONARY), (input) => {
      outcomes[checkResult(input.toString('latin1'), 'fuzz.yaml')]++;
    });
    assert.ok(outcomes.config > fuzzCount(3_000) / 30 && outcomes.refused > fuzzCount(3_000) / 3, JSON.stringify(outcomes));
  });

  it(`fuzz: ${fuzzCount(2_000)} mutated JSON configs give a config or errors with paths`, () => {
    const json = SEEDS.slice(0, 4).map((s) => {
      const config = parseConfig(s.toString(), 'seed.yaml', env);
      return Buffer.from(JSON.stringify({ services: Object.fromEntries(Object.keys(config.services).map((n) => [n, { listen: '127.0.0.1:80', mode: 'tcp', pool: Object.keys(config.pools)[0] }])), pools: { [Object.keys(config.pools)[0]]: { members: [{ address: '10.0.0.1:80' }] } } }, null, 1));
    });
    const outcomes = { config: 0, refused: 0 };
    fuzz(0xc0f2, fuzzCount(2_000), (f) => f.mutate(f.pick(json), ['{', '}', '[', ']', ':', ',', '"', '\\', 'null', '1e400', '"__proto__"', '"listen"', '"mode"']), (input) => {
      outcomes[checkResult(input.toString('latin1'), 'fuzz.json')]++;
    });
    assert.ok(outcomes.refused > fuzzCount(2_000) / 4, JSON.stringify(outcomes));
  });
});
