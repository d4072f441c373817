// The one rule every holder of a run of positions keeps (the gateway's replay ring and fanout,
// the bridge's recent events, the client's session): positions go up by exactly one. Pure; the
// client library imports it too.

/** How `position` follows `last`: at or below it a repeat, right after it the next, beyond it a gap. */
export type Follows = 'repeat' | 'next' | 'gap';

/** `last` undefined: nothing held yet, so anything is next. */
export function follows(last: number | undefined, position: number): Follows {
  if (last === undefined) return 'next';
  if (position <= last) return 'repeat';
  return position === last + 1 ? 'next' : 'gap';
}
