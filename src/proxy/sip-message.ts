// The little of a SIP datagram (RFC 3261 7, 25.1) the udp data plane reads to keep a dialog on
// one member: whether it is a request or a response, and its Call-ID. The start line and every
// header line are checked against the grammar (char codes, bounded lengths and counts); anything
// else is a rejection (a reason), never a throw. The body is not read. A line may end in CRLF or
// in a bare LF (RFC 3261 7.5: be tolerant of what is received); a bare CR is refused.

/** most bytes of one message (a UDP datagram is at most this anyway) */
export const MAX_SIP_MESSAGE = 64 * 1024;
/** most header fields in one message */
export const MAX_SIP_HEADERS = 100;
/** longest start line (a Request-URI can be long, not unbounded) */
const MAX_START_LINE = 4096;
/** longest Call-ID kept */
export const MAX_CALL_ID = 256;
const MAX_METHOD = 32;

export interface SipMessage {
  request: boolean;
  /** an ACK: the one request that gets no response (RFC 3261 17.1.1.3) */
  ack: boolean;
  /** the Call-ID's value as offsets in the datagram */
  callIdStart: number;
  callIdEnd: number;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const AT = 0x40;

// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
const TOKEN = new Uint8Array(256);
// word = 1*(token chars / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}")
const WORD = new Uint8Array(256);
for (const c of "-.!%*_+`'~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;
WORD.set(TOKEN);
for (const c of '()<>:\\"/[]?{}') WORD[c.charCodeAt(0)] = 1;

/** Text of a line: no control characters but HTAB. */
function isText(c: number): boolean {
  return (c >= 0x20 || c === HT) && c !== 0x7f;
}

/** The offset of the CRLF or bare LF that ends the line starting at `from` (within `limit` bytes), or -1. */
function lineEnd(data: Buffer, from: number, limit: number): number {
  const end = Math.min(data.length, from + limit + 1);
  for (let i = from; i < end; i++) {
    const c = data[i];
    if (c === LF) return i;
    if (c === CR) return data[i + 1] === LF ? i : -1;
    if (!isText(c)) return -1;
  }
  return -1;
}

/** Where the line after the one ending at `end` (lineEnd's answer) starts. */
function nextLine(data: Buffer, end: number): number {
  return data[end] === CR ? end + 2 : end + 1;
}

const SIP_VERSION = Buffer.from('SIP/2.0');

function isVersionAt(data: Buffer, at: number): boolean {
  return data.length >= at + SIP_VERSION.length && data.compare(SIP_VERSION, 0, SIP_VERSION.length, at, at + SIP_VERSION.length) === 0;
}

/** Method SP Request-URI SP SIP/2.0, or SIP/2.0 SP 3DIGIT SP Reason-Phrase: true for a request, or why not. */
function startLine(data: Buffer, end: number): boolean | string {
  if (isVersionAt(data, 0)) {
    const d = 8;
    if (end < d + 3 || data[7] !== SP) return 'bad status line';
    if (data[d] < 0x31 || data[d] > 0x36 || data[d + 1] < 0x30 || data[d + 1] > 0x39 || data[d + 2] < 0x30 || data[d + 2] > 0x39) return 'bad status code';
    if (end > d + 3 && data[d + 3] !== SP) return 'bad status code';
    return false;
  }
  let i = 0;
  while (i < end && TOKEN[data[i]] === 1) i++;
  if (i === 0 || i > MAX_METHOD || data[i] !== SP) return 'bad method';
  const uri = ++i;
  while (i < end && data[i] !== SP) i++;
  if (i === uri || i === end) return 'bad Request-URI';
  if (i + 1 + SIP_VERSION.length !== end || !isVersionAt(data, i + 1)) return 'not SIP/2.0';
  return true;
}

/** True when the header name at [start, end) is Call-ID or its compact form i (any case). */
function isCallId(data: Buffer, start: number, end: number): boolean {
  const n = end - start;
  if (n === 1) return (data[start] | 0x20) === 0x69;
  if (n !== 7) return false;
  return (data[start] | 0x20) === 0x63 && (data[start + 1] | 0x20) === 0x61 && (data[start + 2] | 0x20) === 0x6c &&
    (data[start + 3] | 0x20) === 0x6c && data[start + 4] === 0x2d && (data[start + 5] | 0x20) === 0x69 && (data[start + 6] | 0x20) === 0x64;
}

/** The message in `data`, or why it is not a well-formed SIP message with one Call-ID. */
export function readSip(data: Buffer): SipMessage | string {
  if (data.length > MAX_SIP_MESSAGE) return `larger than ${MAX_SIP_MESSAGE} bytes`;
  const first = lineEnd(data, 0, MAX_START_LINE);
  if (first <= 0) return 'no start line';
  const request = startLine(data, first);
  if (typeof request === 'string') return request;
  const ack = request && first > 4 && data[0] === 0x41 && data[1] === 0x43 && data[2] === 0x4b && data[3] === SP;
  let callIdStart = -1;
  let callIdEnd = -1;
  let headers = 0;
  let afterCallId = false;
  let at = nextLine(data, first);
  for (;;) {
    const end = lineEnd(data, at, MAX_SIP_MESSAGE);
    if (end < 0) return 'no end of headers';
    if (end === at) break; // the empty line
    const c = data[at];
    if (c === SP || c === HT) {
      // a folded continuation (RFC 3261 7.3.1); a Call-ID is one word, never folded
      if (headers === 0) return 'continuation line without a header';
      if (afterCallId) return 'folded Call-ID';
      at = nextLine(data, end);
      continue;
    }
    if (++headers > MAX_SIP_HEADERS) return `more than ${MAX_SIP_HEADERS} header fields`;
    afterCallId = false;
    let i = at;
    while (i < end && TOKEN[data[i]] === 1) i++;
    const nameEnd = i;
    while (i < end && (data[i] === SP || data[i] === HT)) i++;
    if (nameEnd === at || data[i] !== COLON || i === end) return 'bad header field name';
    if (isCallId(data, at, nameEnd)) {
      if (callIdStart !== -1) return 'more than one Call-ID';
      i++;
      while (i < end && (data[i] === SP || data[i] === HT)) i++;
      let last = end;
      while (last > i && (data[last - 1] === SP || data[last - 1] === HT)) last--;
      // callid = word [ "@" word ]
      if (last - i > MAX_CALL_ID || !isCallIdValue(data, i, last)) return 'bad Call-ID';
      callIdStart = i;
      callIdEnd = last;
      afterCallId = true;
    }
    at = nextLine(data, end);
  }
  if (callIdStart === -1) return 'no Call-ID';
  return { request, ack, callIdStart, callIdEnd };
}

/** callid = word [ "@" word ] at [start, end). */
function isCallIdValue(data: Buffer, start: number, end: number): boolean {
  let ats = 0;
  let run = 0;
  for (let i = start; i < end; i++) {
    const c = data[i];
    if (c === AT) {
      if (ats === 1 || run === 0) return false;
      ats = 1;
      run = 0;
    } else if (WORD[c] === 1) {
      run++;
    } else {
      return false;
    }
  }
  return run > 0;
}
