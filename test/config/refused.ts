// Helpers for the config tests: parse a text that must be refused and return its issues.

import assert from 'node:assert/strict';
import { ConfigError, parseConfig, type ConfigIssue } from '../../src/config/load.ts';
import type { Env } from '../../src/config/env.ts';

export function issuesOf(text: string, env: Env = {}, file = 'test.yaml'): ConfigIssue[] {
  try {
    parseConfig(text, file, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  assert.fail('expected the config to be refused');
}

/** The one issue of a text that has exactly one problem, as [path, message]. */
export function onlyIssue(text: string, env: Env = {}): [string, string] {
  const issues = issuesOf(text, env);
  assert.equal(issues.length, 1, `expected one issue, got:\n${issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
  return [issues[0].path, issues[0].message];
}

/** A valid file around one service and one pool, so a test varies only what it is about. */
export function withService(service: string, pool = '{ members: [ { address: 10.0.0.1:80 } ] }'): string {
  return `services:\n  www: ${service}\npools:\n  web: ${pool}\n`;
}

export function withPool(pool: string): string {
  return withService('{ listen: 127.0.0.1:8080, mode: tcp, pool: web }', pool);
}
