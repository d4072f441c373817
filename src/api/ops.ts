// Operations endpoints served by every process that serves HTTP: liveness, readiness and
// Prometheus metrics (guarded as the caller says). A bridge-only process serves just these.

import express, { type RequestHandler, type Router } from 'express';
import type { Registry } from 'prom-client';
import { toError } from '../lib/errors.js';
import { sendProblem } from './problem.js';

export interface ReadinessCheck {
  /** Shown in the /readyz body, e.g. "postgres", "rabbitmq", "bridge". */
  readonly name: string;
  /** Resolves when the dependency is usable; rejects with the reason otherwise. */
  check(): Promise<void>;
}

/** A check that does not answer within this is failed: /readyz must answer fast. */
const CHECK_TIMEOUT_MS = 2_000;

export interface OpsRouterOptions {
  registry: Registry;
  checks: readonly ReadinessCheck[];
  /** The broker node (`host:port`) each AMQP link of this process is on, null when not connected. */
  brokers?: () => Record<string, string | null>;
  /** What guards GET /metrics (e.g. a token check); null: /metrics is not served here. */
  metrics: readonly RequestHandler[] | null;
}

export function createOpsRouter({ registry, checks, brokers, metrics }: OpsRouterOptions): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results = await Promise.all(checks.map(runCheck));
    const body = Object.fromEntries(results.map((r) => [r.name, r.error ?? 'ok']));
    const nodes = brokers ? { brokers: brokers() } : {};
    const failed = results.filter((r) => r.error);
    if (failed.length === 0) {
      res.json({ status: 'ready', checks: body, ...nodes });
      return;
    }
    sendProblem(res, {
      status: 503,
      title: 'Service Unavailable',
      detail: `not ready: ${failed.map((r) => `${r.name}: ${r.error}`).join('; ')}`,
      checks: body,
      ...nodes,
    });
  });
  if (metrics === null) return router;
  router.get('/metrics', ...metrics, serveMetrics(registry));
  return router;
}

async function runCheck(check: ReadinessCheck): Promise<{ name: string; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check.check(), timeout]);
    return { name: check.name };
  } catch (e) {
    return { name: check.name, error: toError(e).message };
  } finally {
    clearTimeout(timer);
  }
}

/** GET /metrics: the registry in Prometheus text format. */
export function serveMetrics(registry: Registry): RequestHandler {
  return async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  };
}
