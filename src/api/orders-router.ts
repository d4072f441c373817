// /orders: list (keyset pages with the snapshot's event position), read, create, change, delete.
// Writes need a token when tokens are configured and honour If-Match; the database's triggers
// version and capture every change, so nothing here publishes anything.

import express, { type RequestHandler, type Response, type Router } from 'express';
import type { ApiToken } from '../config.js';
import type { Order } from '../contract/events.js';
import type { OrdersRepository } from '../db/orders.js';
import { actorOf, requireWriteToken } from './auth.js';
import { methodNotAllowed, ProblemError } from './problem.js';
import { parseId, parseIfMatch, parseListQuery, parseNewOrder, parseOrderUpdate } from './validation.js';

export interface OrdersRouterOptions {
  orders: OrdersRepository;
  tokens: readonly ApiToken[];
  /** Largest accepted body, in bytes. */
  bodyLimitBytes: number;
}

/** JSON and its structured-syntax variants (application/merge-patch+json, …). */
const JSON_TYPES = ['application/json', 'application/*+json'];

export function createOrdersRouter({ orders, tokens, bodyLimitBytes }: OrdersRouterOptions): Router {
  const router = express.Router();
  const auth = requireWriteToken(tokens);
  const body = [
    requireJsonContentType,
    // Not strict: a body of `null` or `42` is valid JSON, and validation says what it should be.
    express.json({ limit: bodyLimitBytes, type: JSON_TYPES, strict: false, verify: noteEmptyBody }),
    dropEmptyBody,
  ];

  const update: RequestHandler = async (req, res) => {
    const id = parseId(req.params.id);
    const { changes, options } = parseOrderUpdate(req.body, id, req.get('if-match'));
    sendOrder(res, await orders.update(id, changes, { actor: actorOf(res), ...options }));
  };

  router
    .route('/orders')
    .get(async (req, res) => {
      const page = await orders.list(parseListQuery(req.query));
      res.set('X-Event-Position', String(page.position));
      res.json({ orders: page.orders, next: page.next });
    })
    .post(auth, ...body, async (req, res) => {
      const order = await orders.create(parseNewOrder(req.body), { actor: actorOf(res) });
      res.status(201).location(`/orders/${order.id}`);
      sendOrder(res, order);
    })
    .all(methodNotAllowed('GET, HEAD, POST'));

  router
    .route('/orders/:id')
    .get(async (req, res) => {
      const id = parseId(req.params.id);
      const order = await orders.get(id);
      if (!order) throw new ProblemError('order_not_found', 404, `order ${id} does not exist`);
      sendOrder(res, order);
    })
    .put(auth, ...body, update)
    .patch(auth, ...body, update)
    .delete(auth, async (req, res) => {
      const id = parseId(req.params.id);
      await orders.remove(id, { actor: actorOf(res), ifMatch: parseIfMatch(req.get('if-match')) });
      res.status(204).end();
    })
    .all(methodNotAllowed('GET, HEAD, PUT, PATCH, DELETE'));

  return router;
}

/** The order with its version as a strong ETag; a GET with a matching If-None-Match gets 304. */
function sendOrder(res: Response, order: Order): void {
  res.set('ETag', `"${order.version}"`).json(order);
}

/** A body in another type would be silently ignored by the JSON parser: refuse it instead. */
// body-parser reads an empty JSON body (or a lone BOM) as {}, which would pass as "change
// nothing"; it is a missing body, and validation says so.
function noteEmptyBody(_req: unknown, res: unknown, buffer: Buffer): void {
  const bomOnly = buffer.length === 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf;
  if (buffer.length === 0 || bomOnly) (res as Response).locals.emptyBody = true;
}

const dropEmptyBody: RequestHandler = (req, res, next) => {
  if (res.locals.emptyBody) req.body = undefined;
  next();
};

const requireJsonContentType: RequestHandler = (req, _res, next) => {
  // No body at all (req.is gives null, or an empty one is declared): validation will say that
  // a body is required, which helps more than a complaint about its type.
  if (req.is(JSON_TYPES) !== false || req.get('content-length') === '0') return next();
  const got = req.get('content-type') ?? 'none';
  const message = `must be application/json; got ${got}`;
  throw new ProblemError('unsupported_media_type', 415, `Content-Type: ${message}`, {
    extensions: { errors: [{ field: 'Content-Type', message }] },
  });
};
