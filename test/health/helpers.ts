// Waiting on the runtime's own events: a member reaching a health, agent or weight state.

import type { Furiwake } from '../../src/app.ts';
import type { MemberChange } from '../../src/runtime/events.ts';
import type { Member } from '../../src/runtime/member.ts';

/** Resolves once `test(member)` holds, checked now and after each change of that member. */
export function until(app: Furiwake, pool: string, id: string, test: (m: Member, change?: MemberChange) => boolean): Promise<Member> {
  const member = app.runtime.member(pool, id);
  if (member === undefined) return Promise.reject(new Error(`no member ${pool}/${id}`));
  if (test(member)) return Promise.resolve(member);
  return new Promise((resolve) => {
    const onChange = (m: Member, change: MemberChange): void => {
      if (m !== member || !test(m, change)) return;
      app.runtime.events.off('member', onChange);
      resolve(m);
    };
    app.runtime.events.on('member', onChange);
  });
}

export function health(app: Furiwake, pool: string, id: string, state: Member['health']): Promise<Member> {
  return until(app, pool, id, (m) => m.health === state);
}
