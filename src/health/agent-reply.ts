// The words of an agent's reply, as HAProxy's agent-check defines them: one line of words
// separated by spaces or commas, anything after '#' a description. A reply changes only what
// it names; the rest stays as the previous replies left it.

export interface AgentWords {
  /** ready / drain / maint: may the member take new connections (an operator-like state) */
  admin?: 'ready' | 'drain' | 'maint';
  /** up / down (fail, stopped): is the service on the member running */
  operational?: 'up' | 'down';
  /** N%: share of the configured weight */
  percent?: number;
  /** maxconn:N */
  maxConnections?: number;
  /** the text after '#' */
  description?: string;
  /** words that meant nothing */
  unknown: string[];
}

/** The most an agent may say in one reply; HAProxy reads at most a buffer's worth too. */
export const MAX_AGENT_REPLY = 1024;

export function parseAgentReply(line: string): AgentWords {
  const words: AgentWords = { unknown: [] };
  const hash = line.indexOf('#');
  if (hash !== -1) {
    words.description = line.slice(hash + 1).trim();
    line = line.slice(0, hash);
  }
  for (const word of line.toLowerCase().split(/[\s,]+/)) {
    if (word === '') continue;
    if (word === 'ready' || word === 'drain' || word === 'maint') words.admin = word;
    else if (word === 'up') words.operational = 'up';
    else if (word === 'down' || word === 'fail' || word === 'stopped') words.operational = 'down';
    else if (/^\d{1,3}%$/.test(word)) words.percent = Math.min(256, Number(word.slice(0, -1)));
    else if (/^maxconn:\d{1,9}$/.test(word)) words.maxConnections = Number(word.slice(8));
    else words.unknown.push(word);
  }
  return words;
}
