// The error pages an http service reads from files are read when the config is loaded, like its
// certificates: a missing, unreadable or too large file stops the load with its path, and a
// reload reads it again. Relative paths are taken from the config file's directory.

import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { MAX_ERROR_PAGE } from './header-rules-schema.ts';
import type { PathIssue } from './issues.ts';
import type { Config } from './types.ts';

/** Fills in the body of every error page given as a file (in `config`, a copy the loader owns); what went wrong. */
export async function loadErrorPages(config: Config, baseDir: string): Promise<PathIssue[]> {
  const issues: PathIssue[] = [];
  for (const [name, service] of Object.entries(config.services)) {
    for (const [status, page] of Object.entries(service.http?.errorPages ?? {})) {
      if (page.file === null) continue;
      const path = ['services', name, 'error-pages', status, 'file'];
      const file = resolve(baseDir, page.file);
      try {
        const size = (await stat(file)).size;
        if (size > MAX_ERROR_PAGE) {
          issues.push({ path, message: `${page.file} is ${size} bytes; an error page is at most ${MAX_ERROR_PAGE} bytes` });
          continue;
        }
        page.body = await readFile(file, 'utf8');
        page.file = file;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
        issues.push({ path, message: `cannot read ${page.file}: ${why}` });
      }
    }
  }
  return issues;
}
