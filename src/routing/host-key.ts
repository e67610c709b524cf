// The host a route matches: the request's Host (or the authority of an absolute-form target) in
// lowercase without its port. A Host already in that form (the common case) is used as it is,
// without a copy.

/** `Example.COM:8080` -> `example.com`, `[::1]:80` -> `[::1]`; '' for no host. */
export function hostKey(host: string | null): string {
  if (host === null) return '';
  let end = host.length;
  let upper = false;
  const bracket = host.charCodeAt(0) === 0x5b; /* [ */
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 0x3a /* : */ && (!bracket || host.charCodeAt(i - 1) === 0x5d /* ] */)) {
      end = i;
      break;
    }
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  // a name may end with the root's dot: `example.com.` is `example.com`
  if (end > 1 && host.charCodeAt(end - 1) === 0x2e) end--;
  const key = end === host.length ? host : host.slice(0, end);
  return upper ? key.toLowerCase() : key;
}

/**
 * The longest `.suffix` of `name` that `suffixes` holds (a `*.example.com` wildcard is kept as
 * `.example.com`), with at least one character before it; undefined when none.
 */
export function longestSuffix<T>(name: string, suffixes: ReadonlyMap<string, T>): T | undefined {
  if (suffixes.size === 0) return undefined;
  for (let dot = name.indexOf('.', 1); dot !== -1; dot = name.indexOf('.', dot + 1)) {
    const hit = suffixes.get(name.slice(dot));
    if (hit !== undefined) return hit;
  }
  return undefined;
}
