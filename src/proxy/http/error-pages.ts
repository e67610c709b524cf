// The error pages of an http service: the body (and its content type) of furiwake's own 4xx/5xx
// answers with a status, else the service's `default` page, else none (the plain one-line
// text). A page is encoded once per config (its bytes, as the latin1 text HTTP/1 heads are
// written in, and its length), then served as is.

import type { ErrorPage } from '../../config/header-rules-types.ts';
import type { HttpServiceConfig } from '../../config/http-types.ts';

export interface ServedPage {
  contentType: string;
  /** the body's UTF-8 bytes, one latin1 character each (HTTP/1 answers are written as latin1) */
  latin1: string;
  /** the body's bytes (HTTP/2 writes them) */
  bytes: Buffer;
}

const served = new WeakMap<ErrorPage, ServedPage>();

/** The page for an answer with `status`, or null for furiwake's plain text. */
export function errorPageFor(http: HttpServiceConfig, status: number): ServedPage | null {
  const pages = http.errorPages;
  // (the common case: a service without pages pays one property read)
  const page = pages[status] ?? pages.default;
  if (page === undefined || status < 400) return null;
  let out = served.get(page);
  if (out === undefined) {
    const bytes = Buffer.from(page.body, 'utf8');
    served.set(page, (out = { contentType: page.contentType, latin1: bytes.toString('latin1'), bytes }));
  }
  return out;
}
