// A redirect's location, written from its template (read by the config into text and fields)
// and the request's parts. The parts are what the request parser accepted: visible ASCII only,
// so the location cannot carry a line break into the response head.

import type { LocationPart } from '../config/routes-types.ts';

export function expandLocation(parts: readonly LocationPart[], host: string | null, target: string, https: boolean): string {
  let out = '';
  const q = target.indexOf('?');
  for (const part of parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    switch (part.field) {
      case 'scheme':
        out += https ? 'https' : 'http';
        break;
      case 'host':
        out += host ?? '';
        break;
      case 'path':
        out += q === -1 ? target : target.slice(0, q);
        break;
      case 'query':
        if (q !== -1) out += target.slice(q);
        break;
    }
  }
  return out;
}
