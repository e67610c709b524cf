// Pieces of an HTTP request-target (`/app/page;jsessionid=ABC.s2?user=42`) that the url and
// hash methods read. Bounded: a target longer than MAX_TARGET yields nothing, and values are
// percent-decoded only when well formed.

/** Longer targets are not searched; the http plane refuses them long before (414). */
export const MAX_TARGET = 8192;

/** The path part of a target: before `?` or `#`. */
export function pathOf(target: string): string {
  let end = target.length;
  const q = target.indexOf('?');
  if (q !== -1) end = q;
  const h = target.indexOf('#');
  if (h !== -1 && h < end) end = h;
  return target.slice(0, end);
}

/** The first value of query parameter `name`, percent-decoded; undefined when absent. */
export function queryParameter(target: string, name: string): string | undefined {
  if (target.length > MAX_TARGET) return undefined;
  const q = target.indexOf('?');
  if (q === -1) return undefined;
  const h = target.indexOf('#', q);
  const query = target.slice(q + 1, h === -1 ? target.length : h);
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq), true);
    if (key === name) return decode(eq === -1 ? '' : pair.slice(eq + 1), true);
  }
  return undefined;
}

/**
 * The value of path parameter `name` (`;name=value`, as servlet containers put the session id
 * after the path: `/cart;jsessionid=ABC.s2`), from the first segment that has it.
 */
export function pathParameter(target: string, name: string): string | undefined {
  if (target.length > MAX_TARGET) return undefined;
  for (const segment of pathOf(target).split('/')) {
    const params = segment.split(';');
    for (let i = 1; i < params.length; i++) {
      const eq = params[i].indexOf('=');
      if (eq !== -1 && params[i].slice(0, eq) === name) return decode(params[i].slice(eq + 1), false);
    }
  }
  return undefined;
}

/** Path segment `n` (1 = the first non-empty one), without its ;parameters, percent-decoded. */
export function pathSegment(target: string, n: number): string | undefined {
  if (target.length > MAX_TARGET) return undefined;
  let seen = 0;
  for (const segment of pathOf(target).split('/')) {
    if (segment === '') continue;
    if (++seen === n) {
      const semi = segment.indexOf(';');
      const value = decode(semi === -1 ? segment : segment.slice(0, semi), false);
      return value === '' ? undefined : value;
    }
  }
  return undefined;
}

/** Percent-decoding; `+` is a space only in a query (form encoding), not in a path. */
function decode(text: string, plusIsSpace: boolean): string | undefined {
  const plus = plusIsSpace && text.includes('+');
  if (!plus && !text.includes('%')) return text;
  try {
    return decodeURIComponent(plus ? text.replaceAll('+', ' ') : text);
  } catch {
    return undefined;
  }
}
