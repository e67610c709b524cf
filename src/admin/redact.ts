// The running config as the API shows it: the normalized config with every secret replaced.
// What counts as a secret is decided by key name (token, secret, password, ...), by header name
// for headers a monitor sends (Authorization, Cookie, ...), and by content (PEM blocks), so a
// key added later under a telling name is hidden without anyone remembering to list it.

export const REDACTED = '(redacted)';

const SECRET_KEY = /token|secret|password|passphrase|passwd|credential|private|api-?key|authorization/i;
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key)$|token|secret|key|auth/i;

export function redact(value: unknown): unknown {
  return walk(value, false);
}

function walk(value: unknown, headers: boolean): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (Buffer.isBuffer(value)) return `hex:${value.toString('hex')}`;
  if (value instanceof RegExp) return value.source;
  if (typeof value === 'string') return value.includes('-----BEGIN') ? REDACTED : value;
  if (typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value;
  if (Array.isArray(value)) return value.map((v) => walk(v, false));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const secret = headers ? SECRET_HEADER.test(key) : SECRET_KEY.test(key);
    out[key] = secret && v !== null && v !== undefined ? REDACTED : walk(v, key === 'headers');
  }
  return out;
}
