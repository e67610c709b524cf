// The state the stateful methods share: a stick table whose entries name members by id.

import type { StickTableConfig } from '../config/persistence-types.ts';
import type { MemberSet, Stickable } from './method.ts';
import { StickTable } from './stick-table.ts';

export class Remembered<M extends Stickable> {
  readonly table: StickTable;

  constructor(config: StickTableConfig, now: (() => number) | undefined) {
    this.table = new StickTable({ maxEntries: config.maxEntries, timeout: config.timeout, now });
  }

  /** The member remembered for `key`, while it is in the pool. */
  named(key: string, pool: MemberSet<M>): M | undefined {
    const id = this.table.get(key);
    return id === undefined ? undefined : pool.member(id);
  }
}
