// The manual's links hold: every relative link in docs/, README.md and bench/README.md names a
// file that exists and, with a #fragment, a heading of that file (as GitHub makes anchors).

import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const pages = [
  ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`),
  'README.md',
  'bench/README.md',
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replaceAll(' ', '-');
}

/** The anchors of a Markdown file's headings (outside code blocks); a repeated one gets -1, -2, ... */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const found = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (m === null) continue;
    const s = slug(m[1]);
    const n = seen.get(s) ?? 0;
    seen.set(s, n + 1);
    found.add(n === 0 ? s : `${s}-${n}`);
  }
  return found;
}

/** Relative link targets of a Markdown text, outside code blocks: [label](target). */
function links(text: string): string[] {
  const targets: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    if (fenced) continue;
    for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) if (!/^[a-z]+:/.test(m[1])) targets.push(m[1]);
  }
  return targets;
}

describe('the manual', () => {
  it('makes anchors as GitHub does', () => {
    assert.equal(slug('3.2 `services.<name>`'), '32-servicesname');
    assert.equal(slug("How a member's state is decided"), 'how-a-members-state-is-decided');
    assert.deepEqual([...anchors('# A\n## B\n```\n# not a heading\n```\n## B\n')], ['a', 'b', 'b-1']);
  });

  for (const page of pages) {
    it(`${page}: every relative link names a file and heading that exist`, () => {
      const broken: string[] = [];
      for (const target of links(readFileSync(join(root, page), 'utf8'))) {
        const [path, fragment] = target.split('#', 2);
        const file = path === '' ? join(root, page) : normalize(join(root, dirname(page), path));
        if (!existsSync(file)) broken.push(`${target}: no such file`);
        else if (fragment !== undefined && file.endsWith('.md') && !anchors(readFileSync(file, 'utf8')).has(fragment)) broken.push(`${target}: no such heading`);
      }
      assert.deepEqual(broken, []);
    });
  }
});
