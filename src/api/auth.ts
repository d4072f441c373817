// Who may write: named bearer tokens from the configuration, compared in constant time. Reads stay
// open. Also the secure default at start: no serving unauthenticated writes beyond loopback
// unless the operator opted out. Fails with a 401 ProblemError; no I/O.

import { createHash, timingSafeEqual } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type { RequestHandler, Response } from 'express';
import type { ApiToken, Config } from '../config.js';
import { ProblemError } from './problem.js';

/** The caller a token belongs to, or null for a missing or unknown token. */
export type TokenVerifier = (token: string | undefined) => { name: string } | null;

/**
 * Looks tokens up in constant time: both sides are hashed to 32 bytes (timingSafeEqual needs
 * equal lengths, and the hash hides the real token's length) and every entry is compared, so
 * the time taken tells neither which token matched nor how much of one did.
 */
export function createTokenVerifier(tokens: readonly ApiToken[]): TokenVerifier {
  const entries = tokens.map((t) => ({ name: t.name, digest: sha256(t.token) }));
  return (token) => {
    if (!token) return null;
    const candidate = sha256(token);
    let found: string | null = null;
    for (const entry of entries) {
      if (timingSafeEqual(candidate, entry.digest) && found === null) found = entry.name;
    }
    return found === null ? null : { name: found };
  };
}

/**
 * Middleware for writes: with no token configured it lets everything through; otherwise it needs
 * `Authorization: Bearer <token>` and records the caller as the actor (`api/<name>`).
 */
export function requireWriteToken(tokens: readonly ApiToken[]): RequestHandler {
  const verify = createTokenVerifier(tokens);
  const enabled = tokens.length > 0;
  return (req, res, next) => {
    if (!enabled) return next();
    const header = req.get('authorization');
    const token = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1];
    const caller = verify(token);
    if (!caller) throw unauthorized(header !== undefined);
    res.locals.actor = `api/${caller.name}`;
    next();
  };
}

/** The actor `requireWriteToken` recorded for this response, if any. */
export function actorOf(res: Response): string | undefined {
  const actor: unknown = res.locals.actor;
  return typeof actor === 'string' ? actor : undefined;
}

/**
 * Why the API must not start as configured, or null when it may: a HOST beyond loopback with no
 * API token would let anyone on the network write orders, unless ALLOW_UNAUTHENTICATED=true.
 */
export function checkExposure(
  config: Pick<Config, 'host' | 'apiTokens' | 'allowUnauthenticated'>,
): string | null {
  if (config.apiTokens.length > 0 || config.allowUnauthenticated || isLoopback(config.host)) return null;
  return (
    `HOST=${config.host} accepts connections from other machines, but no API token is configured, ` +
    'so anyone who can reach it could create, change and delete orders. Set API_TOKENS=name:token ' +
    '(a token of at least 16 characters, e.g. from "openssl rand -hex 24"; several as ' +
    'name1:token1,name2:token2), or listen on HOST=127.0.0.1, or accept open writes explicitly ' +
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

function unauthorized(sentCredentials: boolean): ProblemError {
  // RFC 6750: a rejected token is "invalid_token"; a request without one gets the bare challenge.
  const challenge = sentCredentials
    ? 'Bearer realm="orders-live", error="invalid_token"'
    : 'Bearer realm="orders-live"';
  const detail = sentCredentials
    ? 'the bearer token is not valid; send Authorization: Bearer <token> with a token of API_TOKENS'
    : 'writes need a bearer token: send Authorization: Bearer <token> with a token of API_TOKENS';
  return new ProblemError('unauthorized', 401, detail, { headers: { 'WWW-Authenticate': challenge } });
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
