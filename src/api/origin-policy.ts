// Which names and browser origins this server answers: the defence against DNS rebinding (a
// foreign name resolving to a loopback address) and against cross-site pages (a websocket, which
// no same-origin policy guards, or a request with CORS). Pure: the HTTP app and the socket
// handshake ask it with the request's Host and Origin headers.

import { isIP } from 'node:net';
import type { Config } from '../config.js';
import { isLoopback } from './auth.js';

export interface OriginPolicyOptions {
  /** Tokens are configured: a foreign page cannot present one, so any Host name may be served. */
  tokensRequired: boolean;
  /** ALLOWED_HOSTS: names served besides loopback ones; ".example.com" takes its subdomains. */
  allowedHosts: readonly string[];
  /** ALLOWED_ORIGINS: browser origins besides the server's own, as `scheme://host[:port]`. */
  allowedOrigins: readonly string[];
}

export interface OriginPolicy {
  /** Why a request with this Host header is not served, or null when it is. */
  hostProblem(host: string | undefined): string | null;
  /**
   * Why a browser request from `origin` is refused, or null: no Origin (a CLI, a service), the
   * server's own origin (the same host and port as `host`), or one of ALLOWED_ORIGINS.
   */
  originProblem(origin: string | undefined, host: string | undefined): string | null;
  /** The origin is one of ALLOWED_ORIGINS: cross-origin requests from it get CORS headers. */
  isAllowedCrossOrigin(origin: string): boolean;
}

/** The policy the configuration asks for: tokens configured or not, and the extra names. */
export function originPolicyOf(
  config: Pick<Config, 'apiTokens' | 'allowedHosts' | 'allowedOrigins'>,
): OriginPolicy {
  return createOriginPolicy({ tokensRequired: config.apiTokens.length > 0, ...config });
}

const LOOPBACK_NAMES = 'localhost, 127.0.0.1 or [::1]';

export function createOriginPolicy(options: OriginPolicyOptions): OriginPolicy {
  const { tokensRequired, allowedHosts, allowedOrigins } = options;
  const checksHost = !tokensRequired || allowedHosts.length > 0;

  function hostProblem(host: string | undefined): string | null {
    if (!checksHost) return null;
    const name = host === undefined ? undefined : hostName(host);
    if (name === undefined) return 'the request has no valid Host header';
    if (isLoopbackName(name) || allowedHosts.some((allowed) => matchesHost(name, allowed))) return null;
    const served = [LOOPBACK_NAMES, ...allowedHosts].join(', ');
    const advice = tokensRequired
      ? 'add it to ALLOWED_HOSTS to serve it'
      : 'without API_TOKENS only loopback names are served; add it to ALLOWED_HOSTS to serve it';
    return `Host "${shorten(host ?? '')}" is not a name of this server (it serves ${served}): ${advice}`;
  }

  function originProblem(origin: string | undefined, host: string | undefined): string | null {
    if (origin === undefined) return null;
    const parsed = parseOrigin(origin);
    if (parsed && (isSameOrigin(parsed, host) || allowedOrigins.includes(parsed.origin))) return null;
    return (
      `pages from ${shorten(origin)} may not use this server: only its own origin` +
      (allowedOrigins.length > 0 ? ` and ${allowedOrigins.join(', ')}` : '') +
      ' (set ALLOWED_ORIGINS to allow another)'
    );
  }

  return {
    hostProblem,
    originProblem,
    isAllowedCrossOrigin: (origin) => allowedOrigins.includes(parseOrigin(origin)?.origin ?? ''),
  };
}

/** The socket handshake's verdict: its Host and Origin judged as the REST API's are. */
export function handshakeProblem(
  policy: OriginPolicy,
  headers: { host?: string; origin?: string },
): string | null {
  return policy.hostProblem(headers.host) ?? policy.originProblem(headers.origin, headers.host);
}

/** ALLOWED_HOSTS: a host name (example.com), a domain with its subdomains (.example.com), or an IP. */
export function parseAllowedHost(raw: string): { value: string } | { problem: string } {
  const host = raw.toLowerCase();
  const name = /^\.?(?:[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?\.)*[a-z\d](?:[a-z\d-]{0,61}[a-z\d])?$/;
  if (name.test(host) || isIP(host) === 4 || isIP(host.replace(/^\[(.*)\]$/, '$1')) === 6)
    return { value: host.replace(/^\[(.*)\]$/, '$1') };
  return { problem: 'is not a host name (no scheme, port or path; a leading dot takes subdomains)' };
}

/** ALLOWED_ORIGINS: scheme://host[:port], nothing after it; kept as the browser sends it. */
export function parseAllowedOrigin(raw: string): { value: string } | { problem: string } {
  const url = parseOrigin(raw);
  const bare = url && url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
  return bare
    ? { value: url.origin }
    : { problem: 'is not an origin such as https://dashboard.example.com or http://localhost:5173' };
}

/** The name of a Host header value (no port, lower case, IPv6 without brackets), or undefined. */
export function hostName(host: string): string | undefined {
  const match = /^(?:\[([\da-f:.]+)\]|([\w.-]+))(?::\d{1,5})?$/i.exec(host.trim());
  if (!match) return undefined;
  return (match[1] ?? match[2])!.toLowerCase().replace(/\.$/, '');
}

/** 127.0.0.0/8, ::1, localhost and its subdomains (RFC 6761: they resolve to loopback). */
function isLoopbackName(name: string): boolean {
  return isLoopback(name) || name.endsWith('.localhost');
}

function matchesHost(name: string, allowed: string): boolean {
  if (allowed.startsWith('.')) return name === allowed.slice(1) || name.endsWith(allowed);
  return name === allowed;
}

function parseOrigin(origin: string): URL | undefined {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined; // "null" (sandboxed frames, file://) and anything else unparseable
  }
}

/**
 * The page's host and port are the ones the request was sent to (scheme defaults applied). The
 * scheme itself is not compared: behind a proxy that ends TLS the server cannot know it, and a
 * page under this very host and port is served by this server, not by someone else.
 */
function isSameOrigin(origin: URL, host: string | undefined): boolean {
  if (host === undefined || hostName(host) === undefined) return false;
  try {
    return new URL(`${origin.protocol}//${host}`).host === origin.host;
  } catch {
    return false;
  }
}

/** Headers go into messages: a long one is cut, so a hostile value cannot inflate the answer. */
function shorten(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
