// A member's health from its monitors: each checker's verdict, combined by the pool's rule
// (all / any / at least N), becomes the member's health, with the failing monitors' reasons.

import type { HealthRule } from '../config/health-types.ts';
import type { CheckView, Health } from '../runtime/events.ts';
import type { Member } from '../runtime/member.ts';
import type { Checker } from './checker.ts';

export function combine(rule: HealthRule, states: readonly Health[]): Health {
  let up = 0;
  let checking = 0;
  for (const s of states) {
    if (s === 'up') up++;
    else if (s === 'checking') checking++;
  }
  const need = rule.kind === 'all' ? states.length : rule.kind === 'any' ? 1 : rule.n;
  if (up >= need) return 'up';
  if (up + checking < need) return 'down';
  return 'checking';
}

/** Told of every check of one of a member's monitors (by its index), after the member's health is updated. */
export type CheckObserver = (member: Member, monitor: number, view: CheckView) => void;

export class MemberHealth {
  readonly member: Member;
  readonly checkers: readonly Checker[];
  readonly #rule: HealthRule;
  readonly #observe: CheckObserver | null;

  constructor(member: Member, rule: HealthRule, checkers: readonly Checker[], observe: CheckObserver | null = null) {
    this.member = member;
    this.#rule = rule;
    this.checkers = checkers;
    this.#observe = observe;
    member.checks = checkers.map((c) => c.view);
    for (const c of checkers) c.subscribe(this.evaluate);
  }

  /** After any of its checks (`checker`, when a check ran): the member's health is the rule over its monitors' verdicts. */
  evaluate = (checker?: Checker): void => {
    const member = this.member;
    const state = combine(this.#rule, this.checkers.map((c) => c.state));
    // A member that had a verdict keeps it while new monitors (after a reload) have none yet.
    if (state !== 'checking' || member.health === 'checking') member.setHealth(state, this.#reason(state));
    if (checker !== undefined && this.#observe !== null) this.#observe(member, this.checkers.indexOf(checker), checker.view);
  };

  detach(): void {
    for (const c of this.checkers) c.unsubscribe(this.evaluate);
  }

  #reason(state: Health): string {
    const failing = this.checkers.filter((c) => c.state !== 'up');
    if (state === 'up' && failing.length === 0) return this.checkers.map((c) => `${c.config.type}: ${c.view.reason}`).join('; ');
    return failing.map((c) => `${c.config.type}: ${c.view.reason}`).join('; ');
  }
}
