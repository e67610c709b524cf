// The time as log lines write it (ISO 8601, UTC, milliseconds), made once per millisecond
// however many lines share it.

let lastMs = 0;
let lastText = '';

export function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastText = new Date(now).toISOString();
  }
  return lastText;
}
