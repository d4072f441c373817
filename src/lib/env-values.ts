// Environment values as zod schemas: each takes the variable's string (its default when unset)
// and gives the value, or an issue whose message completes "<NAME> …" (config.ts prefixes the
// name), so every bad variable is reported at once, by name.

import { isIP } from 'node:net';
import bytes from 'bytes';
import { z } from 'zod';
import { redactUrl } from './redact.js';

/** A schema from a parser that returns the value or what is wrong with it. */
export function check<T>(parse: (value: string) => { value: T } | { problem: string }) {
  return z.string().transform((value, ctx): T => {
    const parsed = parse(value);
    if ('value' in parsed) return parsed.value;
    ctx.addIssue({ code: 'custom', message: parsed.problem });
    return z.NEVER;
  });
}

export const ok = <T>(value: T) => ({ value });
export const bad = (problem: string) => ({ problem });

export const integer = (min: number, max: number) =>
  check((v) =>
    /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max
      ? ok(Number(v))
      : bad(`must be a whole number from ${min} to ${max}; got "${v}"`),
  );

export const boolean = check((v) => {
  if (['true', '1', 'yes', 'on'].includes(v.toLowerCase())) return ok(true);
  if (['false', '0', 'no', 'off'].includes(v.toLowerCase())) return ok(false);
  return bad(`must be true or false; got "${v}"`);
});

export const oneOf = <T extends string>(allowed: readonly T[]) =>
  check((v) =>
    allowed.includes(v as T) ? ok(v as T) : bad(`must be one of ${allowed.join(', ')}; got "${v}"`),
  );

const DURATION_UNITS_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "7d", "12h", "30m", "45s". */
export const duration = check((v) => {
  const match = /^(\d+)\s*([smhd])$/.exec(v);
  if (!match || Number(match[1]) === 0)
    return bad(`must be a positive duration such as 7d, 12h, 30m or 45s; got "${v}"`);
  return ok(Number(match[1]) * DURATION_UNITS_MS[match[2] as keyof typeof DURATION_UNITS_MS]);
});

/** "100kb", "1mb", "512b" or a plain number of bytes (units of 1024, as body-parser reads them). */
export const byteSize = check((v) => {
  const n = /^\d+(?:\.\d+)?\s*(?:b|kb|mb)?$/i.test(v) ? bytes.parse(v) : null;
  return n !== null && n >= 1 && n <= 100 * 1024 ** 2
    ? ok(Math.floor(n))
    : bad(`must be a size from 1b to 100mb such as 100kb or 1mb; got "${v}"`);
});

/** What is wrong with `value` as a URL of one of `protocols`, or null. */
export function urlProblem(value: string, protocols: string[]): string | null {
  try {
    if (protocols.includes(new URL(value).protocol)) return null;
    return `must start with ${protocols.map((p) => `${p}//`).join(' or ')}; got ${redactUrl(value)}`;
  } catch {
    return `is not a URL (expected e.g. ${protocols[0]}//host:port/…)`;
  }
}

/** One URL, or several separated by commas; a bad one is named by its place. */
export const urlList = (protocols: string[]) =>
  z.string().transform((value, ctx): readonly string[] => {
    const urls = value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (urls.length === 0) ctx.addIssue({ code: 'custom', message: 'names no URL' });
    for (const [i, raw] of urls.entries()) {
      const problem = urlProblem(raw, protocols);
      if (problem)
        ctx.addIssue({ code: 'custom', message: urls.length > 1 ? `(URL ${i + 1}) ${problem}` : problem });
    }
    return Object.freeze(urls);
  });

/** A comma-separated list whose entries are each checked (and normalized) by `entry`. */
export const list = (entry: (raw: string) => { value: string } | { problem: string }) =>
  z.string().transform((value, ctx): readonly string[] => {
    const values: string[] = [];
    for (const raw of value.split(',').map((s) => s.trim())) {
      if (raw === '') continue;
      const parsed = entry(raw);
      if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: `: "${raw}" ${parsed.problem}` });
      else if (!values.includes(parsed.value)) values.push(parsed.value);
    }
    return Object.freeze(values);
  });

const TRUST_KEYWORDS = ['loopback', 'linklocal', 'uniquelocal'];

/** false, a number of proxy hops, or addresses, subnets and Express's keywords. */
export const trustProxy = check(
  (value): { value: number | readonly string[] | false } | { problem: string } => {
    const v = value.toLowerCase();
    if (['false', 'off', 'no', '0'].includes(v)) return ok(false);
    if (/^\d{1,2}$/.test(v)) return ok(Number(v));
    const entries = v.split(',').map((s) => s.trim());
    const unknown = entries.filter(
      (e) => !TRUST_KEYWORDS.includes(e) && isIP(e.replace(/\/\d{1,3}$/, '')) === 0,
    );
    if (unknown.length === 0) return ok(Object.freeze(entries));
    return bad(
      `must be false, a number of proxy hops, or addresses/subnets and ${TRUST_KEYWORDS.join(', ')} ` +
        `(comma-separated); "${unknown.join('", "')}" is none of them`,
    );
  },
);

export interface RateLimit {
  /** Requests allowed per window. */
  readonly limit: number;
  readonly windowMs: number;
}

/** "10000/10s", "600/1m", or "off". */
export const rateLimit = check((value): { value: RateLimit | null } | { problem: string } => {
  if (value.toLowerCase() === 'off') return ok(null);
  const match = /^(\d{1,9})\s*\/\s*(\d*)\s*([smh])$/.exec(value);
  const limit = Number(match?.[1]);
  const windowMs = Number(match?.[2] || 1) * (DURATION_UNITS_MS[match?.[3] as 's'] ?? Number.NaN);
  if (match && limit >= 1 && windowMs >= 1_000 && windowMs <= 3_600_000)
    return ok(Object.freeze({ limit, windowMs }));
  return bad(
    `must be requests per window such as 10000/10s, 600/1m or 100/s (window 1s–1h), or off; got "${value}"`,
  );
});

export const optionalPort = check((v) =>
  v === ''
    ? ok(null)
    : /^\d+$/.test(v) && Number(v) <= 65_535
      ? ok(Number(v))
      : bad(`must be a whole number from 0 to 65535; got "${v}"`),
);

export const amqpName = check((v) =>
  /^[\w.:-]{1,200}$/.test(v) ? ok(v) : bad(`must be 1–200 letters, digits, '.', '_', ':' or '-'; got "${v}"`),
);
