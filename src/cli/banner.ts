// What `orders-live start` tells a person at a terminal once it runs: where the dashboard, the
// API and the socket are, which roles run here, and which database and broker they use
// (passwords hidden). Pure: main.ts prints it.

import type { Role } from '../config.js';
import { redactUrl } from '../lib/redact.js';

export interface BannerInput {
  /** The HTTP server's URL, e.g. http://127.0.0.1:3000. */
  url: string;
  roles: readonly Role[];
  databaseUrl: string;
  rabbitmqUrls: readonly string[];
  /** The loopback listener of /metrics (METRICS_PORT), when there is one. */
  metricsUrl?: string;
}

export function startBanner({ url, roles, databaseUrl, rabbitmqUrls, metricsUrl }: BannerInput): string {
  const rows: [string, string][] = [];
  if (roles.includes('api')) {
    rows.push(['dashboard', `${url}/`]);
    rows.push(['REST API', `${url}/orders  (described at ${url}/openapi.json)`]);
  }
  if (roles.includes('gateway'))
    rows.push(['socket', `${url.replace(/^http/, 'ws')}/socket.io  (Socket.IO)`]);
  const metrics = metricsUrl ?? url;
  if (!roles.includes('api')) rows.push(['health', `${url}/readyz, ${metrics}/metrics`]);
  else if (metricsUrl) rows.push(['metrics', `${metricsUrl}/metrics`]);
  rows.push(['database', redactUrl(databaseUrl)]);
  if (roles.includes('bridge') || roles.includes('gateway'))
    rows.push(['broker', rabbitmqUrls.map(redactUrl).join(', ')]);
  return [
    '',
    `  orders-live is running: ${roles.join(', ')}`,
    '',
    ...rows.map(([name, value]) => `  ${name.padEnd(10)} ${value}`),
    '',
    '  Ctrl-C stops it.',
    '',
  ].join('\n');
}
