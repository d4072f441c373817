// Express middleware in front of the routes: the Host check (DNS rebinding), browser origins with
// CORS for the allowed ones, and the per-client rate limit. The decisions are origin-policy.ts's;
// here they become problem+json answers and headers.

import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { RateLimit } from '../config.js';
import { callerOf } from './auth.js';
import type { OriginPolicy } from './origin-policy.js';
import { ProblemError } from './problem.js';

/** Refuses requests for a name this server does not serve (421); `open` paths skip the check. */
export function hostGuard(policy: OriginPolicy, open: readonly string[] = []): RequestHandler {
  return (req, _res, next) => {
    if (open.includes(req.path)) return next();
    const problem = policy.hostProblem(req.get('host'));
    if (problem) throw new ProblemError('host_not_allowed', 421, problem);
    next();
  };
}

/** What a page of an allowed origin may send and read beyond the CORS-safelisted basics. */
const CORS_REQUEST_HEADERS = 'Authorization, Content-Type, If-Match, If-None-Match';
const CORS_EXPOSED_HEADERS =
  'ETag, Location, Retry-After, X-Event-Position, X-Event-Epoch, RateLimit, RateLimit-Policy';
const CORS_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
/** How long a browser may cache a preflight's answer, in seconds. */
const CORS_MAX_AGE = '600';

/**
 * Browser requests from a foreign origin are refused (403) unless it is one of ALLOWED_ORIGINS,
 * whose requests (and preflights) get CORS headers. Requests without Origin pass: they do not
 * come from a web page's script.
 */
export function originGuard(policy: OriginPolicy): RequestHandler {
  return (req, res, next) => {
    const origin = req.get('origin');
    if (origin === undefined) return next();
    res.vary('Origin');
    const problem = policy.originProblem(origin, req.get('host'));
    if (problem) throw new ProblemError('origin_not_allowed', 403, problem);
    if (!policy.isAllowedCrossOrigin(origin)) return next();
    res.set({
      'Access-Control-Allow-Origin': origin,
      'Access-Control-Expose-Headers': CORS_EXPOSED_HEADERS,
    });
    if (req.method !== 'OPTIONS' || req.get('access-control-request-method') === undefined) return next();
    res
      .set({
        'Access-Control-Allow-Methods': CORS_METHODS,
        'Access-Control-Allow-Headers': CORS_REQUEST_HEADERS,
        'Access-Control-Max-Age': CORS_MAX_AGE,
      })
      .status(204)
      .end();
  };
}

/**
 * At most `limit` requests per window for each client: the token's name when a valid one came
 * (identifyCaller runs first), else the address (an IPv6 client by its /56). Over it: 429 with
 * Retry-After and the RateLimit headers. Counted per process, in memory.
 */
export function rateLimiter({ limit, windowMs }: RateLimit): RequestHandler {
  return rateLimit({
    windowMs,
    limit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: (req, res) => {
      const caller = callerOf(res);
      return caller ? `token:${caller.name}` : `address:${ipKeyGenerator(req.ip ?? '')}`;
    },
    handler: (_req, res, next) => {
      const retryAfter = String(res.getHeader('Retry-After') ?? Math.ceil(windowMs / 1_000));
      const caller = callerOf(res);
      const client = caller ? `the token "${caller.name}"` : 'this address';
      next(
        new ProblemError(
          'rate_limited',
          429,
          `${client} sent more than ${limit} requests in ${windowMs / 1_000} s (RATE_LIMIT); ` +
            `retry after ${retryAfter} s`,
          { extensions: { retryable: true }, headers: { 'Retry-After': retryAfter } },
        ),
      );
    },
    // Behind a proxy without TRUST_PROXY every client shares the proxy's address; docs/operations.md says
    // so, and the library's console warning would bypass the structured log.
    validate: { xForwardedForHeader: false },
  });
}
