// /orders: list (keyset pages with the snapshot's event position), read, create, change, delete.
// With tokens configured reads need one and writes a read-write one; writes honour If-Match. The
// database's triggers version and capture every change, so nothing here publishes anything.

import { isUtf8 } from 'node:buffer';
import express, { type RequestHandler, type Response, type Router } from 'express';
import type { Order } from '../contract/events.js';
import type { OrdersRepository } from '../db/orders.js';
import { actorOf, requireAccess } from './auth.js';
import { methodNotAllowed, ProblemError } from './problem.js';
import { parseId, parseIfMatch, parseListQuery, parseNewOrder, parseOrderUpdate } from './validation.js';

export interface OrdersRouterOptions {
  orders: OrdersRepository;
  /** API_TOKENS is set: reads need a token, writes a read-write one. */
  tokensRequired: boolean;
  /** Largest accepted body, in bytes. */
  bodyLimitBytes: number;
}

/** JSON and its structured-syntax variants (application/merge-patch+json, …). */
const JSON_TYPES = ['application/json', 'application/*+json'];

export function createOrdersRouter({ orders, tokensRequired, bodyLimitBytes }: OrdersRouterOptions): Router {
  const router = express.Router();
  const read = requireAccess('read', tokensRequired);
  const write = requireAccess('write', tokensRequired);
  const body = [
    requireJsonContentType,
    // Not strict: a body of `null` or `42` is valid JSON, and validation says what it should be.
    express.json({ limit: bodyLimitBytes, type: JSON_TYPES, strict: false, verify: checkRawBody }),
    dropEmptyBody,
  ];

  const update: RequestHandler = async (req, res) => {
    const id = parseId(req.params.id);
    const { changes, options } = parseOrderUpdate(req.body, id, req.get('if-match'));
    sendOrder(res, await orders.update(id, changes, { actor: actorOf(res), ...options }));
  };

  router
    .route('/orders')
    .get(read, async (req, res) => {
      const page = await orders.list(parseListQuery(req.query));
      res.set('X-Event-Position', String(page.position));
      res.set('X-Event-Epoch', String(page.epoch));
      res.json({ orders: page.orders, next: page.next });
    })
    .post(write, ...body, async (req, res) => {
      const order = await orders.create(parseNewOrder(req.body), { actor: actorOf(res) });
      res.status(201).location(`/orders/${order.id}`);
      sendOrder(res, order);
    })
    .all(methodNotAllowed('GET, HEAD, POST'));

  router
    .route('/orders/:id')
    .get(read, async (req, res) => {
      const id = parseId(req.params.id);
      const order = await orders.get(id);
      if (!order) throw new ProblemError('order_not_found', 404, `order ${id} does not exist`);
      sendOrder(res, order);
    })
    .put(write, ...body, update)
    .patch(write, ...body, update)
    .delete(write, async (req, res) => {
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
// nothing"; it is a missing body, and validation says so. Bytes that are not UTF-8 would be
// decoded to U+FFFD and stored as such: they are refused.
function checkRawBody(_req: unknown, res: unknown, buffer: Buffer): void {
  if (!isUtf8(buffer)) {
    const message = 'is not valid UTF-8: JSON text must be UTF-8 (RFC 8259)';
    throw new ProblemError('invalid_utf8', 400, `body: ${message}`, {
      extensions: { errors: [{ field: 'body', message }] },
    });
  }
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
