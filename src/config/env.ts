// `${VAR}` in string values, filled from the environment. It works on the parsed document, not
// the raw text, so a value can never break the YAML around it (a `:` or `#` in a secret stays
// a secret) and every problem has the path of the value it is in.

import type { PathIssue, PathSegment } from './issues.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** `$${` is a literal `${`; `${NAME}` a variable; a `${` left open is reported. */
const REFERENCE = /\$\$\{|\$\{([^}]*)(\}?)/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A copy of `value` with every `${VAR}` in its strings replaced. Keys are left alone: they are
 * names, not settings. Substitution is one pass; a value containing `${` is not expanded again.
 */
export function substituteEnv(value: unknown, env: Env): { value: unknown; issues: PathIssue[] } {
  const issues: PathIssue[] = [];
  const result = walk(value, [], env, issues);
  return { value: result, issues };
}

/** `path`: one array, pushed and popped on the way (copied into an issue): not one per value of a large config. */
function walk(value: unknown, path: PathSegment[], env: Env, issues: PathIssue[]): unknown {
  if (typeof value === 'string') return value.includes('$') ? substituteString(value, [...path], env, issues) : value;
  if (Array.isArray(value)) {
    return value.map((item, index) => {
      path.push(index);
      const out = walk(item, path, env, issues);
      path.pop();
      return out;
    });
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      path.push(key);
      out[key] = walk(item, path, env, issues);
      path.pop();
    }
    return out;
  }
  return value;
}

function substituteString(text: string, path: PathSegment[], env: Env, issues: PathIssue[]): string {
  return text.replace(REFERENCE, (match: string, name: string | undefined, close: string | undefined) => {
    if (match === '$${') return '${';
    if (close === '') {
      issues.push({ path, message: `unterminated \${ in ${JSON.stringify(text)} (write $\${ for a literal \${)` });
      return match;
    }
    if (name === undefined || !VARIABLE_NAME.test(name)) {
      issues.push({ path, message: `expected a variable name of letters, digits and "_" in \${...}, got ${JSON.stringify(match)}` });
      return match;
    }
    const found = env[name];
    if (found === undefined) {
      issues.push({ path, message: `environment variable ${name} is not set` });
      return match;
    }
    return found;
  });
}
