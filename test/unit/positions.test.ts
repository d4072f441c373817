// The one rule of a run of positions (src/lib/positions.ts), which the replay ring, the fanout, the
// bridge's recent events and the client session all apply.

import fc from 'fast-check';
import { expect, it } from 'vitest';
import { follows } from '../../src/lib/positions.js';

it('calls a position at or below the last a repeat, the one after it next, and any beyond a gap', () => {
  expect(follows(undefined, 7)).toBe('next');
  expect(follows(6, 7)).toBe('next');
  expect(follows(7, 7)).toBe('repeat');
  expect(follows(7, 3)).toBe('repeat');
  expect(follows(7, 9)).toBe('gap');
});

it('keeps a run that goes up by exactly one out of any sequence', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 50 })), (positions) => {
      let last: number | undefined;
      const kept: number[] = [];
      for (const p of positions) {
        const step = follows(last, p);
        if (step === 'repeat') continue;
        if (step === 'gap') kept.length = 0;
        kept.push(p);
        last = p;
      }
      for (let i = 1; i < kept.length; i++) expect(kept[i]).toBe(kept[i - 1]! + 1);
      if (positions.length > 0) expect(last).toBe(Math.max(...positions));
    }),
  );
});
