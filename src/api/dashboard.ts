// The dashboard's built files (web/dist) served at `/`. When they are missing (a checkout that
// was never built), `/` answers a problem saying how to build them instead of a bare 404.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type RequestHandler } from 'express';
import { sendProblem } from './problem.js';

export function dashboardHandlers(distDir: string): RequestHandler[] {
  if (!existsSync(join(distDir, 'index.html'))) {
    return [
      (req, res, next) => {
        if (req.method !== 'GET' || req.path !== '/') return next();
        sendProblem(res, {
          status: 404,
          title: 'Not Found',
          detail: 'the dashboard is not built: run "npm run build" (or "npm start", which builds first)',
        });
      },
    ];
  }
  // Hashed asset names (assets/) change with their content: cache them for a year. Everything
  // else keeps its name across builds (index.html, the client library's bundle, the examples):
  // revalidated on every load.
  return [
    express.static(distDir, {
      index: 'index.html',
      setHeaders(res, path) {
        const hashed = path.startsWith(join(distDir, 'assets'));
        res.setHeader('Cache-Control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  ];
}
