// The envelope's timestamps (src/db/event-log.ts): what the capture wrote into jsonb comes out as
// the REST API writes it, RFC 3339 with Z and microseconds.

import { describe, expect, it } from 'vitest';
import { rfc3339 } from '../../src/db/event-log.js';

describe('rfc3339', () => {
  it('turns PostgreSQL JSON timestamps in UTC into the API format', () => {
    expect(rfc3339('2026-11-24T10:00:00.12+00:00')).toBe('2026-11-24T10:00:00.120000Z');
    expect(rfc3339('2026-11-24T10:00:00+00:00')).toBe('2026-11-24T10:00:00.000000Z');
    expect(rfc3339('2026-11-24T10:00:00.123456+00')).toBe('2026-11-24T10:00:00.123456Z');
  });

  it('leaves anything else as it is', () => {
    expect(rfc3339('2026-11-24T10:00:00.123456Z')).toBe('2026-11-24T10:00:00.123456Z');
    expect(rfc3339('2026-11-24T11:00:00+01:00')).toBe('2026-11-24T11:00:00+01:00');
    expect(rfc3339(null)).toBeNull();
    expect(rfc3339(42)).toBe(42);
  });
});
