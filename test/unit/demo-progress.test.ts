// The demo's progress line (src/cli/demo.ts): what was done, not what was planned.

import { describe, expect, it } from 'vitest';
import { progressLine } from '../../src/cli/demo.js';

describe('demo progress', () => {
  it('counts what was done and gives a rate once a second has passed', () => {
    expect(progressLine(600, { api: 157, sql: 156, failed: 1, seeded: 40 }, 15.6)).toBe(
      'demo: 314/600 changes (157 api, 156 sql, 1 failed), 20/s',
    );
  });

  it('gives no rate from the first blink, and says when it was stopped', () => {
    expect(progressLine(600, { api: 1, sql: 0, failed: 0, seeded: 0 }, 0.01)).toBe(
      'demo: 1/600 changes (1 api, 0 sql, 0 failed)',
    );
    expect(progressLine(600, { api: 2, sql: 2, failed: 0, seeded: 0 }, 2, true)).toBe(
      'demo: 4/600 changes (2 api, 2 sql, 0 failed), 2/s, stopped',
    );
  });
});
