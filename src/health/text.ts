// Text from outside (an agent's reply, a script's output) as it may be shown to an operator:
// without control characters, which could drive a terminal reading the logs.

/** C0 controls, DEL and C1 controls. */
function isControl(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/** `text` without control characters (each run becomes one space), trimmed. */
export function printable(text: string): string {
  let out = '';
  let gap = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isControl(c)) {
      gap = true;
      continue;
    }
    if (gap && out !== '' && c !== 0x20 && !out.endsWith(' ')) out += ' ';
    gap = false;
    out += text[i];
  }
  return out.trim();
}
