// Reading a SIP response (RFC 3261 7.2, 25.1) from a member's bytes, field by field: the status
// line, header names as tokens, values without control characters, one Content-Length that
// fits, bounded counts. A response that breaks the grammar is a reason in words, never a throw.

/** most bytes of one response (a UDP datagram is at most this anyway) */
export const MAX_SIP_MESSAGE = 64 * 1024;
/** most header fields in one response */
export const MAX_SIP_HEADERS = 100;
/** the longest reason phrase quoted in a check's reason */
const MAX_PHRASE = 64;

export interface SipResponse {
  status: number;
  phrase: string;
  /** header values by lower-case full name (compact forms expanded), in order */
  headers: Map<string, string[]>;
  /** null when the response has no Content-Length */
  contentLength: number | null;
  /** bytes of the status line and headers, with the blank line that ends them */
  headLength: number;
}

const COMPACT: Record<string, string> = {
  v: 'via',
  i: 'call-id',
  f: 'from',
  t: 'to',
  m: 'contact',
  l: 'content-length',
  c: 'content-type',
  k: 'supported',
};

// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")  (RFC 3261 25.1)
const TOKEN = new Uint8Array(128);
for (const c of "-.!%*_+`'~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

function isToken(text: string): boolean {
  if (text === '') return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** Text of a header value or reason phrase: any byte but controls (HTAB allowed). */
function isText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/**
 * A response's status line and headers from `bytes` (the whole datagram, or a stream's bytes up
 * to and including the blank line). A string is why it is not a valid SIP response.
 */
export function parseSipResponse(bytes: Buffer): SipResponse | string {
  if (bytes.length > MAX_SIP_MESSAGE) return `larger than ${MAX_SIP_MESSAGE} bytes`;
  const text = bytes.toString('latin1');
  // the head ends at the first empty line (CRLF CRLF, or bare LFs as RFC 3261 7.5 tolerates)
  let headEnd = -1;
  let headLength = -1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    const next = text.charCodeAt(i + 1) === 0x0d ? i + 2 : i + 1;
    if (text.charCodeAt(next) === 0x0a) {
      headEnd = i;
      headLength = next + 1;
      break;
    }
  }
  if (headEnd < 0) return 'no end of headers';
  const lines = text.slice(0, headEnd).split('\n');
  for (let i = 0; i < lines.length; i++) if (lines[i].endsWith('\r')) lines[i] = lines[i].slice(0, -1);

  const statusLine = lines[0];
  if (!statusLine.startsWith('SIP/2.0 ')) return 'not a SIP/2.0 status line';
  const code = statusLine.slice(8, 11);
  const status = code.length === 3 && /^[1-6][0-9][0-9]$/.test(code) ? Number(code) : -1;
  if (status < 0) return 'bad status code';
  if (statusLine.length > 11 && statusLine.charCodeAt(11) !== 0x20) return 'bad status code';
  const rawPhrase = statusLine.slice(12);
  if (!isText(rawPhrase)) return 'control character in the reason phrase';
  const phrase = rawPhrase.trim();

  if (lines.length - 1 > MAX_SIP_HEADERS) return `more than ${MAX_SIP_HEADERS} header fields`;
  const headers = new Map<string, string[]>();
  let last: string[] | null = null;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (!isText(line)) return 'control character in a header field';
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      // folded continuation of the previous header
      if (last === null) return 'continuation line without a header';
      const more = line.trim();
      const value = last[last.length - 1];
      if (more !== '') last[last.length - 1] = value === '' ? more : `${value} ${more}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) return 'header field without a name';
    const raw = line.slice(0, colon).trimEnd().toLowerCase();
    if (!isToken(raw)) return 'bad header field name';
    const name = Object.hasOwn(COMPACT, raw) ? COMPACT[raw] : raw;
    let values = headers.get(name);
    if (values === undefined) {
      values = [];
      headers.set(name, values);
    }
    values.push(line.slice(colon + 1).trim());
    last = values;
  }

  let contentLength: number | null = null;
  for (const value of headers.get('content-length') ?? []) {
    const n = /^[0-9]{1,6}$/.test(value) ? Number(value) : -1;
    if (n < 0 || n > MAX_SIP_MESSAGE) return 'bad Content-Length';
    if (contentLength !== null && n !== contentLength) return 'conflicting Content-Length';
    contentLength = n;
  }
  return { status, phrase: phrase.length > MAX_PHRASE ? `${phrase.slice(0, MAX_PHRASE)}…` : phrase, headers, contentLength, headLength };
}

export interface SipTransaction {
  branch: string;
  tag: string;
  callId: string;
}

/** RFC 3261 17.1.3: the top Via's branch, and the CSeq method; and our Call-ID and CSeq number. */
export function belongsTo(message: SipResponse, t: SipTransaction, method: string): boolean {
  const via = message.headers.get('via')?.[0]?.split(',')[0] ?? '';
  const branch = /;\s*branch\s*=\s*([^;\s]+)/i.exec(via)?.[1];
  if (branch !== t.branch) return false;
  const callId = message.headers.get('call-id')?.[0] ?? '';
  if (callId.split('@')[0] !== t.callId) return false;
  const cseq = (message.headers.get('cseq')?.[0] ?? '').split(/\s+/);
  return cseq[0] === '1' && cseq[1] === method;
}
