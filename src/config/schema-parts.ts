// Building blocks of the config schemas: leaves parsed by our own functions (so every message
// says what was expected and what was found, in the same words everywhere) and containers
// that refuse unknown keys.

import { z } from 'zod';
import { parseAddress, type AddressRules } from './address.ts';
import { parseDuration, type DurationRules } from './duration.ts';
import { describe, expected, fail, ok, type Parsed } from './issues.ts';

export const MAX_INT = 2 ** 31 - 1;
/** Service and pool names end up in metrics labels and API paths, so they stay plain. */
export const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const NAME_FORM = 'name of letters, digits, "_" and "-" (at most 64, starting with a letter or digit)';

// ---- leaves -------------------------------------------------------------------------------

/** A schema that accepts anything and lets `parse` decide, so the message is ours. */
export function leaf<T>(parse: (input: unknown) => Parsed<T>) {
  return z.unknown().transform((input, ctx): T => {
    const result = parse(input);
    if (result.ok) return result.value;
    ctx.addIssue({ code: 'custom', message: result.message, input });
    return z.NEVER;
  });
}

export const address = (rules: AddressRules) => leaf((input) => parseAddress(input, rules));
export const duration = (rules: DurationRules) => leaf((input) => parseDuration(input, rules));

/** Numbers may arrive as strings: `${VAR}` substitution always produces text. */
export function integer(min: number, max: number) {
  return leaf((input): Parsed<number> => {
    const value = typeof input === 'string' && /^-?\d+$/.test(input) ? Number(input) : input;
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max) return ok(value);
    const range = max === MAX_INT ? `${min} or more` : `from ${min} to ${max}`;
    return fail(expected(`a whole number ${range}`, input));
  });
}

export const boolean = leaf((input): Parsed<boolean> => {
  if (input === true || input === 'true') return ok(true);
  if (input === false || input === 'false') return ok(false);
  return fail(expected('true or false', input));
});

/** `hints`: words people try instead (`https` for a mode), each with what to write. */
export function oneOf<T extends string>(values: readonly T[], later: readonly string[] = [], hints: Readonly<Record<string, string>> = {}) {
  return leaf((input): Parsed<T> => {
    if ((values as readonly unknown[]).includes(input)) return ok(input as T);
    if (later.includes(input as string)) {
      return fail(`${describe(input)} is not supported yet; expected ${values.join(' or ')}`);
    }
    const hint = typeof input === 'string' && Object.hasOwn(hints, input.toLowerCase()) ? `; ${hints[input.toLowerCase()]}` : '';
    return fail(expected(values.join(', ').replace(/, ([^,]*)$/, ' or $1'), input) + hint);
  });
}

export function matching(pattern: RegExp, form: string) {
  return leaf((input): Parsed<string> =>
    typeof input === 'string' && pattern.test(input) ? ok(input) : fail(expected(form, input)),
  );
}

// ---- containers ---------------------------------------------------------------------------

/**
 * A map with a fixed set of keys; any other key is an error. The unknown-keys issue carries
 * the known keys as its message so that issue mapping can name them and suggest the closest.
 */
export function section<S extends z.core.$ZodLooseShape>(what: string, shape: S) {
  const known = Object.keys(shape).join(' ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? known : expected(what, issue.input)),
  });
}

/** An optional section: absent or left empty (`global:` with every key commented out) means all defaults. */
export function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess((input) => (input === null ? undefined : input), schema.prefault({} as z.input<T>));
}

export function byName<T extends z.ZodType>(kind: string, value: T) {
  const key = z.string().regex(NAME);
  return z.record(key, value, {
    error: (issue) =>
      issue.code === 'invalid_key'
        ? expected(`a ${kind} ${NAME_FORM}`, issue.input)
        : expected(`a map of ${kind}s by name`, issue.input),
  });
}

/**
 * A map whose `key` (a monitor's `type`, a persistence `method`) chooses the schema of the
 * rest. The chosen schema's issues keep their own codes (an unknown key stays an unknown key,
 * reported with a suggestion); zod prefixes this schema's path.
 */
export function byKind<K extends string, T>(key: string, what: string, schemas: Readonly<Record<K, z.ZodType<T>>>) {
  const kinds = Object.keys(schemas) as K[];
  const list = kinds.join(', ').replace(/, ([^,]*)$/, ' or $1');
  return z.unknown().transform((input, ctx): T => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      ctx.addIssue({ code: 'custom', message: expected(what, input) });
      return z.NEVER;
    }
    const kind = (input as Record<string, unknown>)[key];
    if (!kinds.includes(kind as K)) {
      ctx.addIssue({ code: 'custom', path: [key], message: expected(list, kind) });
      return z.NEVER;
    }
    const result = schemas[kind as K].safeParse(input);
    if (result.success) return result.data;
    for (const issue of result.error.issues) ctx.addIssue(issue as z.core.$ZodRawIssue);
    return z.NEVER;
  });
}

