// Who may do what: named bearer tokens from the configuration, read-write or read-only, compared
// in constant time. With tokens configured, every route that returns or changes data needs one;
// without, everything is open to whoever is local (origin-policy.ts keeps foreign pages out).
// Also the secure default at start: no listening beyond loopback without tokens unless the
// operator opted out. Fails with 401/403 ProblemErrors; no I/O.

import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { RequestHandler, Response } from 'express';
import type { Config } from '../config.js';
import { ProblemError } from './problem.js';

/** What a token may do: read (REST reads, GET /events, the socket, /metrics) or also write. */
export type Access = 'read' | 'write';
const ACCESS_LEVELS: readonly Access[] = ['read', 'write'];

/** A named bearer token of API_TOKENS; writes made with it are recorded as actor `api/<name>`. */
export interface ApiToken {
  readonly name: string;
  /** The secret itself: compared, never logged nor echoed in a message. */
  readonly token: string;
  readonly access: Access;
}

/** 16 characters of a random token are ≥ 80 bits: hopeless to guess over HTTP. */
const MIN_TOKEN_LENGTH = 16;
const TOKEN_NAME = /^[\w.-]{1,64}$/;

/**
 * API_TOKENS: "name:token,name2:token2:read". Problems name entries by position and name, never
 * by token.
 */
export function parseApiTokens(value: string): { tokens: readonly ApiToken[]; problems: string[] } {
  const tokens: ApiToken[] = [];
  const problems: string[] = [];
  if (value.trim() !== '')
    value.split(',').forEach((entry, i) => {
      const parsed = parseApiToken(entry.trim(), tokens);
      if (typeof parsed === 'string') problems.push(`entry ${i + 1} ${parsed}`);
      else tokens.push(Object.freeze(parsed));
    });
  return { tokens: Object.freeze(tokens), problems };
}

/** One "name:token" or "name:token:read|write" entry, or what is wrong with it. */
function parseApiToken(entry: string, seen: readonly ApiToken[]): ApiToken | string {
  const parts = entry.split(':').map((p) => p.trim());
  if (parts.length < 2) return 'must be name:token or name:token:read (entries are separated by commas)';
  const [name = '', token = '', access = 'write'] = parts;
  if (!TOKEN_NAME.test(name)) return "needs a name of 1–64 letters, digits, '.', '_' or '-' before the ':'";
  if (parts.length > 3 || !ACCESS_LEVELS.includes(access as Access)) {
    return (
      `("${name}") must end in :read or :write after the token, or nothing (read-write); ` +
      "a token cannot contain ':'"
    );
  }
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    return (
      `("${name}") needs a token of at least ${MIN_TOKEN_LENGTH} characters without spaces; ` +
      `it has ${token.length} (generate one with: openssl rand -hex 24)`
    );
  }
  if (seen.some((t) => t.name === name)) return `("${name}") repeats a name; names must be unique`;
  if (seen.some((t) => t.token === token)) return `("${name}") reuses the token of another entry`;
  return { name, token, access: access as Access };
}

/** Who presented a token, and what it allows. */
export interface Caller {
  name: string;
  access: Access;
}

/** The caller a token belongs to, or null for a missing or unknown token. */
export type TokenVerifier = (token: string | undefined) => Caller | null;

/**
 * Looks tokens up in constant time: both sides are hashed to 32 bytes (timingSafeEqual needs
 * equal lengths, and the hash hides the real token's length) and every entry is compared, so
 * the time taken tells neither which token matched nor how much of one did.
 */
export function createTokenVerifier(tokens: readonly ApiToken[]): TokenVerifier {
  const entries = tokens.map((t) => ({
    caller: { name: t.name, access: t.access },
    digest: sha256(t.token),
  }));
  return (token) => {
    if (!token) return null;
    const candidate = sha256(token);
    let found: Caller | null = null;
    for (const entry of entries) {
      if (timingSafeEqual(candidate, entry.digest) && found === null) found = entry.caller;
    }
    return found === null ? null : { ...found };
  };
}

/**
 * Reads `Authorization: Bearer <token>` and records who sent it (callerOf), refusing nothing:
 * the rate limiter keys on the caller, and requireAccess decides per route.
 */
export function identifyCaller(tokens: readonly ApiToken[]): RequestHandler {
  const verify = createTokenVerifier(tokens);
  return (req, res, next) => {
    const header = req.get('authorization');
    if (header !== undefined) {
      res.locals.credentials = true;
      const caller = verify(/^Bearer +(\S+) *$/i.exec(header)?.[1]);
      if (caller) res.locals.caller = caller;
    }
    next();
  };
}

/**
 * Middleware of a route that reads (`read`) or changes (`write`) data: with tokens configured
 * it needs a caller (401) whose token allows it (403); writes are recorded as actor `api/<name>`.
 * Without tokens everything passes.
 */
export function requireAccess(needed: Access, tokensRequired: boolean): RequestHandler {
  return (_req, res, next) => {
    if (!tokensRequired) return next();
    const caller = callerOf(res);
    if (!caller) throw unauthorized(res.locals.credentials === true, needed);
    if (needed === 'write' && caller.access !== 'write') {
      throw new ProblemError(
        'forbidden',
        403,
        `the token "${caller.name}" is read-only; changes need a read-write token of API_TOKENS`,
        { headers: { 'WWW-Authenticate': 'Bearer realm="orders-live", error="insufficient_scope"' } },
      );
    }
    if (needed === 'write') res.locals.actor = `api/${caller.name}`;
    next();
  };
}

/** The caller identifyCaller found for this response, if any. */
export function callerOf(res: Response): Caller | undefined {
  const caller: unknown = res.locals.caller;
  return typeof caller === 'object' && caller !== null ? (caller as Caller) : undefined;
}

/** The actor requireAccess('write') recorded for this response, if any. */
export function actorOf(res: Response): string | undefined {
  const actor: unknown = res.locals.actor;
  return typeof actor === 'string' ? actor : undefined;
}

/**
 * Why the process must not start as configured, or null when it may: every role listens (the
 * api and gateway serve orders, each serves /metrics), and a HOST beyond loopback with no token
 * would let anyone on the network read them and, with the api, change them, unless
 * ALLOW_UNAUTHENTICATED=true.
 */
export function checkExposure(
  config: Pick<Config, 'host' | 'apiTokens' | 'allowUnauthenticated' | 'roles'>,
): string | null {
  if (config.apiTokens.length > 0 || config.allowUnauthenticated || isLoopback(config.host)) return null;
  const what = config.roles.includes('api')
    ? 'read, create, change and delete orders'
    : config.roles.includes('gateway')
      ? 'follow every change of every order'
      : 'read its metrics';
  return (
    `HOST=${config.host} accepts connections from other machines, but no API token is configured, ` +
    `so anyone who can reach it could ${what}. Set API_TOKENS=name:token ` +
    '(a token of at least 16 characters, e.g. from "openssl rand -hex 24"; several as ' +
    'name1:token1,name2:token2:read), or listen on HOST=127.0.0.1, or accept open access explicitly ' +
    'with ALLOW_UNAUTHENTICATED=true.'
  );
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 (also written out or IPv4-mapped) and localhost. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  const family = isIP(bare);
  if (family === 0) return false;
  return LOOPBACK.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

function unauthorized(sentCredentials: boolean, needed: Access): ProblemError {
  // RFC 6750: a rejected token is "invalid_token"; a request without one gets the bare challenge.
  const challenge = sentCredentials
    ? 'Bearer realm="orders-live", error="invalid_token"'
    : 'Bearer realm="orders-live"';
  const detail = sentCredentials
    ? 'the bearer token is not valid; send Authorization: Bearer <token> with a token of API_TOKENS'
    : `${needed === 'write' ? 'changes need' : 'this route needs'} a bearer token: ` +
      'send Authorization: Bearer <token> with a token of API_TOKENS';
  return new ProblemError('unauthorized', 401, detail, { headers: { 'WWW-Authenticate': challenge } });
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
