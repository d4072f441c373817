// GET /access: what the caller's token allows, so a page can ask for a token or hide what a
// read-only one cannot do. Without tokens configured everyone may read and write.

import express, { type Router } from 'express';
import type { AccessBody } from '../contract/rest.js';
import { callerOf, requireAccess } from './auth.js';
import { methodNotAllowed } from './problem.js';

export function createAccessRouter({ tokensRequired }: { tokensRequired: boolean }): Router {
  const router = express.Router();
  router
    .route('/access')
    .get(requireAccess('read', tokensRequired), (_req, res) => {
      const caller = callerOf(res);
      const body: AccessBody = {
        tokens_required: tokensRequired,
        caller: tokensRequired ? (caller?.name ?? null) : null,
        access: tokensRequired ? (caller?.access ?? 'read') : 'write',
      };
      res.json(body);
    })
    .all(methodNotAllowed('GET, HEAD'));
  return router;
}
