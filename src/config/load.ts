// The entry points: text -> Config (sync, no DNS) and file -> Config (reads, resolves names).
// Both either return a complete Config or throw one ConfigError listing every problem.

import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { checkListeners } from './checks.ts';
import { loadErrorPages } from './error-page-files.ts';
import { substituteEnv, type Env } from './env.ts';
import { ConfigError, formatPath, type ConfigIssue, type PathIssue } from './issues.ts';
import { resolveHosts } from './resolve.ts';
import { readSource, type Source } from './source.ts';
import { loadTlsFiles } from './tls-files.ts';
import type { Config } from './types.ts';
import { validateDocument } from './validate.ts';

export { ConfigError, type ConfigIssue } from './issues.ts';
export type { Env } from './env.ts';

/** Parse and validate a YAML (or, for a `.json` file name, JSON) text. `file` names it in errors. */
export function parseConfig(text: string, file: string, env: Env = process.env): Config {
  const { config } = parseWithSource(text, file, env);
  return config;
}

/** Read, parse, validate, then resolve every hostname (in parallel) to fill `address.ip`. */
export async function loadConfig(file: string, env: Env = process.env): Promise<Config> {
  const text = await readText(file);
  const { config, source } = parseWithSource(text, file, env);
  // DNS waits until the file is otherwise valid: a rejected file is not worth the lookups.
  const resolved = await resolveHosts(config);
  // Certificates and keys of https services, read from disk (relative to the config file).
  const files = await loadTlsFiles(resolved.config, dirname(file));
  const pages = await loadErrorPages(files.config, dirname(file));
  // Names that resolve to one address can now be seen to share a port.
  const issues = [...resolved.issues, ...files.issues, ...pages, ...checkListeners(resolved.config.services)];
  if (issues.length > 0) throw new ConfigError(toConfigIssues(issues, file, source));
  return files.config;
}

function parseWithSource(text: string, file: string, env: Env): { config: Config; source: Source } {
  const read = readSource(text, file);
  if (!read.ok) throw new ConfigError(read.issues);
  const substituted = substituteEnv(read.source.value, env);
  const validated = validateDocument(substituted.value);
  const { duplicates } = read;
  if (validated.ok && substituted.issues.length === 0 && duplicates.length === 0) return { config: validated.config, source: read.source };
  // A value whose variable is missing still holds `${VAR}`; the schema's complaint about that
  // text would only repeat the real problem.
  const unset = substituted.issues.map((issue) => formatPath(issue.path));
  const schemaIssues = validated.ok ? [] : validated.issues.filter((issue) => !unset.includes(formatPath(issue.path)));
  throw new ConfigError(toConfigIssues([...substituted.issues, ...schemaIssues], file, read.source, duplicates));
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : message;
    throw new ConfigError([{ file, path: '', message: `cannot read the config file: ${why}` }]);
  }
}

/** Attach file and line, and list the issues in file order, as a person reads them. */
function toConfigIssues(issues: readonly PathIssue[], file: string, source: Source, placed: readonly ConfigIssue[] = []): ConfigIssue[] {
  const located = [...placed, ...issues.map((issue): ConfigIssue => {
    const line = source.lineOf(issue.path);
    const located: ConfigIssue = { file, path: formatPath(issue.path), message: issue.message };
    if (line !== undefined) located.line = line;
    return located;
  })];
  // A stable sort keeps issues of one line in the order they were found.
  return located.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
}
