// The normalized header rules, request ids and error pages of an http service (and the header
// rules of a route). A header value is read once, when the config is, into text and the
// request's parts in turn (like a redirect's location): a request only joins them.

/** A part of the request a header value may use: `{client}`, `{host}`, ... */
export type HeaderField = 'client' | 'host' | 'path' | 'query' | 'method' | 'scheme' | 'service' | 'route' | 'request-id';

/** A piece of a header value: text as written, or a part of the request. */
export type HeaderValuePart = string | { field: HeaderField };

export interface HeaderSetting {
  /** as written (an HTTP/2 client gets it in lowercase) */
  name: string;
  /** lowercase, to compare */
  lower: string;
  /** the template as written */
  value: string;
  parts: HeaderValuePart[];
}

/** What happens to one head: `set` replaces every field of its name, `add` adds one more, `delete` removes every one. */
export interface HeaderEdits {
  set: HeaderSetting[];
  add: HeaderSetting[];
  /** lowercase names */
  delete: string[];
}

export interface HeaderRulesConfig {
  /** the head sent to the member; null: unchanged */
  request: HeaderEdits | null;
  /** the member's response head as the client gets it; null: unchanged */
  response: HeaderEdits | null;
}

export interface RequestIdConfig {
  /** as written, like X-Request-Id */
  header: string;
  /** lowercase */
  lower: string;
  /** a valid id the request brings is passed on (else every request gets a new one) */
  keepIncoming: boolean;
  /** the response to the client carries the id too */
  echo: boolean;
}

/** The body of furiwake's own answers with one status (or any 4xx/5xx: `default`). */
export interface ErrorPage {
  contentType: string;
  /** the file it is read from (absolute once loaded); null for a body written in the config */
  file: string | null;
  /** the text (UTF-8); a file's contents once the config is loaded */
  body: string;
}

/** By status code ("503") or "default"; empty: furiwake's plain text bodies. */
export type ErrorPagesConfig = Record<string, ErrorPage>;
