import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('API configuration', () => {
  it('defaults to no tokens, no opt-out and a 100 kB body limit', () => {
    expect(loadConfig({})).toMatchObject({
      apiTokens: [],
      allowUnauthenticated: false,
      bodyLimitBytes: 102_400,
    });
  });

  it('reads named tokens, trimming spaces around entries', () => {
    const config = loadConfig({
      API_TOKENS: ' ops:0123456789abcdef , shop.web-1:fedcba9876543210:with-colon ',
    });
    expect(config.apiTokens).toEqual([
      { name: 'ops', token: '0123456789abcdef' },
      { name: 'shop.web-1', token: 'fedcba9876543210:with-colon' },
    ]);
    expect(Object.isFrozen(config.apiTokens)).toBe(true);
    expect(Object.isFrozen(config.apiTokens[0])).toBe(true);
  });

  it.each([
    ['no colon', 'justatokenwithoutname', /API_TOKENS entry 1 must be name:token/],
    ['an empty name', ':0123456789abcdef', /API_TOKENS entry 1 needs a name/],
    ['a name with spaces', 'my ops:0123456789abcdef', /API_TOKENS entry 1 needs a name/],
    ['a short token', 'ops:short', /API_TOKENS entry 1 \("ops"\) needs a token of at least 16 .* it has 5/],
    ['an empty entry', 'ops:0123456789abcdef,,', /API_TOKENS entry 2 must be name:token/],
    [
      'a repeated name',
      'ops:0123456789abcdef,ops:fedcba9876543210',
      /API_TOKENS entry 2 \("ops"\) repeats a name/,
    ],
    [
      'a shared token',
      'a:0123456789abcdef,b:0123456789abcdef',
      /API_TOKENS entry 2 \("b"\) reuses the token/,
    ],
  ])('refuses API_TOKENS with %s', (_what, value, expected) => {
    expect(problemsOf({ API_TOKENS: value }).join('\n')).toMatch(expected);
  });

  it('never puts a token into a message', () => {
    const problems = problemsOf({
      API_TOKENS: 'ops:0123456789abcdef-secret,ops:fedcba9876543210-secret,bad:secret,secret',
    });
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).not.toMatch(/secret/);
  });

  it.each([
    ['true', true],
    ['1', true],
    ['FALSE', false],
    ['no', false],
  ])('reads ALLOW_UNAUTHENTICATED=%s', (value, expected) => {
    expect(loadConfig({ ALLOW_UNAUTHENTICATED: value }).allowUnauthenticated).toBe(expected);
  });

  it.each([
    ['100kb', 102_400],
    ['1mb', 1_048_576],
    ['1.5MB', 1_572_864],
    ['512b', 512],
    ['2048', 2048],
  ])('reads BODY_LIMIT=%s', (value, bytes) => {
    expect(loadConfig({ BODY_LIMIT: value }).bodyLimitBytes).toBe(bytes);
  });

  it.each(['0', 'lots', '10gb', '101mb', '-1kb'])('refuses BODY_LIMIT=%s', (value) => {
    expect(problemsOf({ BODY_LIMIT: value }).join('\n')).toMatch(
      `BODY_LIMIT must be a size from 1b to 100mb`,
    );
  });

  it('names every bad API variable in one error, next to the others', () => {
    const problems = problemsOf({
      API_TOKENS: 'ops:short',
      ALLOW_UNAUTHENTICATED: 'maybe',
      BODY_LIMIT: 'huge',
      PORT: 'x',
    }).join('\n');
    for (const name of ['API_TOKENS', 'ALLOW_UNAUTHENTICATED', 'BODY_LIMIT', 'PORT'])
      expect(problems).toContain(name);
  });
});
