// The dashboard's files, served from src/admin/static/ (read once; nothing comes from a CDN).
// A strict Content-Security-Policy lets the page load only its own script and style and talk
// only to this server.

import { readFileSync } from 'node:fs';

export interface StaticFile {
  body: Buffer;
  type: string;
}

const JS = 'text/javascript; charset=utf-8';
/** The page's script is ES modules: dashboard.js imports the others by these paths. */
const MODULES = ['dashboard.js', 'dom.js', 'format.js', 'auth.js', 'events.js', 'model.js', 'renderers.js', 'stick.js', 'ha.js'];

const FILES: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  ...Object.fromEntries(MODULES.map((file) => [`/${file}`, [file, JS]])),
  '/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
};

export const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function loadStaticFiles(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const [path, [file, type]] of Object.entries(FILES)) {
    files.set(path, { body: readFileSync(new URL(`./static/${file}`, import.meta.url)), type });
  }
  files.set('/index.html', files.get('/')!);
  return files;
}
