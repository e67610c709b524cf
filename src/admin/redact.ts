// What the API and the event stream must never show, in one place.
// - The running config with every secret replaced. What counts as a secret is decided by key
//   name (token, secret, password, ...), by header name for headers a monitor sends
//   (Authorization, Cookie, ...), and by content (PEM blocks), so a key added later under a
//   telling name is hidden without anyone remembering to list it. A monitor's request body,
//   its path's query string and a script's arguments may carry credentials: hidden too.
// - Every value so hidden is also cut out of any other answer (a script's output, a member's
//   reason) by Scrubber, the last step before bytes leave the admin server.
// - Request targets lose their query string (`/login?user=...&password=...`) unless the
//   operator asks; a script monitor's reason loses the output it quoted.

export const REDACTED = '(redacted)';

const SECRET_KEY = /^key$|token|secret|password|passphrase|passwd|credential|private|api-?key|authorization/i;
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key)$|token|secret|key|auth/i;
/** keys of a monitor that may hold credentials whatever their content */
const MONITOR_SECRETS = new Set(['body', 'args']);
/** Shorter hidden values are not cut out of other text: they would match ordinary words. */
const MIN_SCRUBBED = 8;

export function redact(value: unknown): unknown {
  return walk(value, 'plain', null);
}

/** Every secret value of a config (what redact hides), for a Scrubber. */
export function secretsOf(value: unknown): string[] {
  const found: string[] = [];
  walk(value, 'plain', found);
  return found;
}

/** monitors: a list of monitors; monitor: one of them */
type Context = 'plain' | 'headers' | 'monitors' | 'monitor';

function walk(value: unknown, context: Context, found: string[] | null): unknown {
  if (value === null || value === undefined) return value ?? null;
  // a loaded config's bytes are plain Uint8Arrays: loading copies it with structuredClone
  if (value instanceof Uint8Array) return `hex:${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  if (value instanceof RegExp) return value.source;
  if (typeof value === 'string') return value.includes('-----BEGIN') ? hidden(value, found) : value;
  if (typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value;
  if (Array.isArray(value)) return value.map((v) => walk(v, context === 'monitors' ? 'monitor' : 'plain', found));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const secret = context === 'headers' ? SECRET_HEADER.test(key) : SECRET_KEY.test(key) || (context === 'monitor' && MONITOR_SECRETS.has(key));
    // a boolean (readTokenRequired) says whether a secret is needed; it holds none
    if (secret && v !== null && v !== undefined && typeof v !== 'boolean') out[key] = hidden(v, found);
    else if (context === 'monitor' && key === 'path' && typeof v === 'string') out[key] = hideQuery(v, found);
    else out[key] = walk(v, key === 'headers' ? 'headers' : key === 'monitors' ? 'monitors' : 'plain', found);
  }
  return out;
}

function hidden(value: unknown, found: string[] | null): string {
  if (found !== null) collect(value, found);
  return REDACTED;
}

function collect(value: unknown, found: string[]): void {
  if (typeof value === 'string') found.push(value);
  else if (Array.isArray(value)) for (const v of value) collect(v, found);
  else if (typeof value === 'object' && value !== null) for (const v of Object.values(value)) collect(v, found);
}

/** `/login?user=a&password=b` -> `/login?(redacted)`; a target without a query is unchanged. */
export function hideQuery(target: string, found: string[] | null = null): string {
  const q = target.indexOf('?');
  if (q === -1) return target;
  if (found !== null) found.push(target.slice(q + 1));
  return `${target.slice(0, q)}?${REDACTED}`;
}

/**
 * A script monitor's reason quotes the first line of its output (`exit 2: <line>`), which may
 * hold anything the script read; the API keeps `exit 2` and leaves the line to the log.
 */
export function hideCheckOutput(type: string, reason: string): string {
  return type === 'script' ? reason.replace(SCRIPT_REASON, OUTPUT_HIDDEN) : reason;
}

/** The same in a member's reason (`script: exit 2: <line>; http: status 500`): the line runs to the next monitor's part. */
export function hideReasonOutput(reason: string): string {
  return reason.includes('script: ') ? reason.replace(SCRIPT_PART, OUTPUT_HIDDEN) : reason;
}

const OUTPUT_HIDDEN = '$1 (output in the log)';
const SCRIPT_REASON = /^(exit \d+|killed by \w+): [\s\S]*$/;
const SCRIPT_PART = /(script: (?:exit \d+|killed by \w+)): [\s\S]*?(?=; (?:icmp|tcp|udp|http|https|sip|radius|dns|script): |$)/g;

/** Cuts known secret values out of text that is about to be sent (JSON or events). */
export class Scrubber {
  readonly #needles: string[];

  constructor(secrets: readonly string[]) {
    // the text is JSON: a value appears there escaped
    const needles = new Set<string>();
    for (const s of secrets) if (s.length >= MIN_SCRUBBED) needles.add(JSON.stringify(s).slice(1, -1));
    // the longest first, so that a secret containing another is cut whole
    this.#needles = [...needles].sort((a, b) => b.length - a.length);
  }

  scrub(text: string): string {
    for (const needle of this.#needles) if (text.includes(needle)) text = text.replaceAll(needle, REDACTED);
    return text;
  }
}
