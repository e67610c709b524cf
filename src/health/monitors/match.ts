// A reply matcher compiled once per monitor: a substring, a regular expression, or an exact
// byte sequence (hex). `describe` names it in reasons: "OK", /OK/, hex 2b504f4e47.

import type { Matcher } from '../../config/health-types.ts';

export interface CompiledMatcher {
  /** true when `buf` (everything received so far, within the monitor's bound) contains a match */
  test(buf: Buffer): boolean;
  describe: string;
}

export function compileMatcher(matcher: Matcher): CompiledMatcher {
  switch (matcher.kind) {
    case 'string': {
      // compared as bytes: no decoding, so a match split across chunks or UTF-8 boundaries still counts
      const needle = Buffer.from(matcher.value, 'utf8');
      return { test: (buf) => buf.includes(needle), describe: JSON.stringify(matcher.value) };
    }
    case 'regex': {
      let re: RegExp;
      try {
        re = new RegExp(matcher.value);
      } catch (err) {
        throw new Error(`invalid regular expression /${matcher.value}/: ${(err as Error).message}`);
      }
      return { test: (buf) => re.test(buf.toString('utf8')), describe: `/${matcher.value}/` };
    }
    case 'hex': {
      // spaces and colons are allowed as separators ("2b 50 4f", "2b:50:4f"), and a 0x prefix
      const digits = matcher.value.replace(/^0x/i, '').replace(/[\s:]/g, '').toLowerCase();
      if (digits.length === 0 || digits.length % 2 !== 0 || !/^[0-9a-f]+$/.test(digits)) {
        throw new Error(`invalid hex bytes "${matcher.value}": expected an even number of hex digits`);
      }
      const needle = Buffer.from(digits, 'hex');
      return { test: (buf) => buf.includes(needle), describe: `hex ${digits}` };
    }
  }
}
