// /events: the published change log by position, for integrations and for catching a snapshot
// up (GET /orders' X-Event-Position is the `after` to start from); /orders/:id/events: one
// order's history, newest first, deleted orders included while their events are retained.
// Read-only; with tokens configured they need one, as GET /orders does.

import express, { type Router } from 'express';
import type pg from 'pg';
import { readOrderHistory, readPublished } from '../db/event-log.js';
import { requireAccess } from './auth.js';
import { methodNotAllowed, ProblemError } from './problem.js';
import { parseEventsQuery, parseId, parseOrderEventsQuery } from './validation.js';

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
  router
    .route('/orders/:id/events')
    .get(requireAccess('read', tokensRequired), async (req, res) => {
      const id = parseId(req.params.id);
      const { before, limit } = parseOrderEventsQuery(req.query);
      const page = await readOrderHistory(pool, id, before ?? Number.MAX_SAFE_INTEGER, limit);
      if (!page.known)
        throw new ProblemError(
          'order_not_found',
          404,
          `order ${id} has no events: it never existed, or retention has removed them all`,
        );
      // `next` is the `before` of the following (older) page, null after the oldest.
      const next = page.events.length === limit ? page.events.at(-1)!.position : null;
      res.json({ events: page.events, next });
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
