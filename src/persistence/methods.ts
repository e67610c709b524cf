// The persistence methods, one line each: adding a method is its file plus a line here (and its
// keys in config/persistence-schema.ts).

import type { PersistenceConfig, PersistenceMethod } from '../config/persistence-types.ts';
import { cookieMethod } from './cookie.ts';
import { hashMethod } from './hash.ts';
import type { MethodDescriptor } from './method.ts';
import { sourceIpMethod } from './source-ip.ts';
import { tlsSessionMethod } from './tls-session.ts';
import { urlMethod } from './url.ts';

export const PERSISTENCE_METHODS: { readonly [N in PersistenceMethod]: MethodDescriptor<Extract<PersistenceConfig, { method: N }>> } = {
  'source-ip': sourceIpMethod,
  'tls-session': tlsSessionMethod,
  cookie: cookieMethod,
  url: urlMethod,
  hash: hashMethod,
};

/** The method a service's persistence config names. */
export function methodOf<C extends PersistenceConfig>(config: C): MethodDescriptor<C> {
  return PERSISTENCE_METHODS[config.method] as unknown as MethodDescriptor<C>;
}
