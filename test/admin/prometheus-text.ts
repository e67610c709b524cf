// A strict parser of the Prometheus text exposition format (0.0.4), for the metrics tests: it
// refuses what a Prometheus server would refuse (bad names, bad escapes, a TYPE after samples,
// a family split in two, a series twice, histogram buckets that are not cumulative) so that
// passing tests mean the page can be scraped.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePrometheus(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | null = null;
  if (!text.endsWith('\n')) throw new Error('the page must end with a newline');
  text.slice(0, -1).split('\n').forEach((line, i) => {
    const where = `line ${i + 1}: ${line}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) return; // a plain comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`bad metric name: ${where}`);
      let family = families.get(name);
      if (family === undefined) {
        family = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, family);
      } else if (family !== current) {
        throw new Error(`a family must be contiguous: ${where}`);
      } else if (family.samples.length > 0) {
        throw new Error(`${kind} after samples: ${where}`);
      }
      current = family;
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type: ${where}`);
        family.type = rest as Family['type'];
      } else {
        family.help = unescape(rest, false, where);
      }
      return;
    }
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, current, families);
    if (family === null) throw new Error(`a sample outside its family: ${where}`);
    const id = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(id)) throw new Error(`a series twice: ${where}`);
    seen.add(id);
    family.samples.push(sample);
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function familyOf(name: string, current: Family | null, families: Map<string, Family>): Family | null {
  if (current === null) return families.get(name) ?? null;
  if (name === current.name) return current;
  if (current.type === 'histogram' && [`${current.name}_bucket`, `${current.name}_sum`, `${current.name}_count`].includes(name)) return current;
  if (current.type === 'summary' && [`${current.name}_sum`, `${current.name}_count`].includes(name)) return current;
  return null;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line);
  if (m === null) throw new Error(`not a sample: ${where}`);
  const labels: Record<string, string> = {};
  if (m[2] !== undefined) {
    let rest = m[2].slice(1, -1);
    while (rest !== '') {
      const lm = /^([^=]+)="((?:[^"\\]|\\.)*)"(,|$)/.exec(rest);
      if (lm === null || !LABEL.test(lm[1])) throw new Error(`bad labels: ${where}`);
      if (lm[1] in labels) throw new Error(`a label twice: ${where}`);
      labels[lm[1]] = unescape(lm[2], true, where);
      rest = rest.slice(lm[0].length);
    }
  }
  return { name: m[1], labels, value: parseValue(m[3], where) };
}

function parseValue(text: string, where: string): number {
  // as Go's strconv.ParseFloat, which Prometheus uses: NaN and Inf in any case (prom-client writes "Nan")
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value: ${where}`);
  return Number(text);
}

function unescape(text: string, quotes: boolean, where: string): string {
  return text.replace(/\\(.)/g, (_m, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    if (c === '"' && quotes) return '"';
    throw new Error(`bad escape \\${c}: ${where}`);
  });
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: [number, number][]; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const id = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(id) ?? { buckets: [] };
    series.set(id, entry);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      entry.buckets.push([parseValue(le, f.name), s.value]);
    } else if (s.name.endsWith('_count')) {
      entry.count = s.value;
    }
  }
  for (const [id, { buckets, count }] of series) {
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i][0] <= buckets[i - 1][0] || buckets[i][1] < buckets[i - 1][1]) throw new Error(`${f.name}${id}: buckets not cumulative`);
    }
    const last = buckets[buckets.length - 1];
    if (last === undefined || last[0] !== Infinity || last[1] !== count) throw new Error(`${f.name}${id}: the +Inf bucket must equal _count`);
  }
}

/** The value of the one sample of `name` whose labels include `labels`; throws when there is not exactly one. */
export function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const base = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
  if (base === undefined) throw new Error(`no family ${name}`);
  const found = base.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name} with ${JSON.stringify(labels)}`);
  return found[0].value;
}
