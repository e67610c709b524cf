// How a bad config is reported: every problem at once, each naming the file, the path of the
// key (`pools.web.members[2].address`), what was expected and what was found.

/** One step into the document: a map key or a list index. */
export type PathSegment = string | number;

/** A problem found before the file and line are known (schema, env, DNS, semantic checks). */
export interface PathIssue {
  path: PathSegment[];
  message: string;
}

export interface ConfigIssue {
  file: string;
  /** dotted, with list indexes: `pools.web.members[2].address`; '' for the whole file */
  path: string;
  message: string;
  /** 1-based; absent when the position is unknown (e.g. a JSON file yaml could not map) */
  line?: number;
  /** 1-based; only for syntax errors, where the column matters */
  column?: number;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super(formatIssues(issues));
    this.name = 'ConfigError';
    this.issues = issues;
  }

  /** One line per issue, `file:line: path: message`, for people. */
  format(): string {
    return formatIssues(this.issues);
  }
}

export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map(formatIssue).join('\n');
}

function formatIssue(issue: ConfigIssue): string {
  let where = issue.file;
  if (issue.line !== undefined) where += `:${issue.line}`;
  if (issue.column !== undefined) where += `:${issue.column}`;
  return issue.path === '' ? `${where}: ${issue.message}` : `${where}: ${issue.path}: ${issue.message}`;
}

/** `['pools', 'web', 'members', 2, 'address']` -> `pools.web.members[2].address` */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    // Keys that would make the dotted form ambiguous are quoted, so the path stays readable back.
    else if (!/^[A-Za-z0-9_-]+$/.test(segment)) out += `[${JSON.stringify(segment)}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

/** The found value, as a message shows it: strings quoted, lists and maps by kind. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return String(value);
}

/** `expected <what>, got <found>`, or `missing; expected <what>` when the key is absent. */
export function expected(what: string, found: unknown): string {
  return found === undefined ? `missing; expected ${what}` : `expected ${what}, got ${describe(found)}`;
}

/** The closest known word within two edits, for "did you mean" hints. */
export function suggest(word: string, known: readonly string[]): string | undefined {
  // camelCase is the most likely slip, since the normalized config uses it.
  const kebab = word.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  if (kebab !== word && known.includes(kebab)) return kebab;
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(word.toLowerCase(), candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length];
}

/** What a leaf parser (address, duration, number) returns: the value, or why it was refused. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function fail<T>(message: string): Parsed<T> {
  return { ok: false, message };
}
