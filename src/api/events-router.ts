// /events: the published change log by position, for integrations and for catching a snapshot
// up (GET /orders' X-Event-Position is the `after` to start from). Read-only; with tokens
// configured it needs one, as GET /orders does.

import express, { type Router } from 'express';
import type pg from 'pg';
import { readPublished } from '../db/event-log.js';
import { requireAccess } from './auth.js';
import { methodNotAllowed } from './problem.js';
import { parseEventsQuery } from './validation.js';

export function createEventsRouter({
  pool,
  tokensRequired,
}: {
  pool: Pick<pg.Pool, 'query'>;
  tokensRequired: boolean;
}): Router {
  const router = express.Router();
  router
    .route('/events')
    .get(requireAccess('read', tokensRequired), async (req, res) => {
      const { after, limit } = parseEventsQuery(req.query);
      const events = await readPublished(pool, after, limit);
      // `next` is the `after` of the following call: unchanged when nothing new was published.
      res.json({ events, next: events.at(-1)?.position ?? after });
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
