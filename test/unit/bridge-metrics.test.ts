// The bridge's metrics: every family registered once, in a stable order, and the two backlog
// gauges served by one probe per scrape.

import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createBridgeMetrics } from '../../src/bridge/metrics.js';

describe('createBridgeMetrics', () => {
  it('registers every metric of the bridge, in order', async () => {
    const registry = new Registry();
    createBridgeMetrics(registry, { backlog: async () => ({ count: 0, lagSeconds: 0 }) });
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toEqual([
      'orders_live_bridge_backlog',
      'orders_live_bridge_lag_seconds',
      'orders_live_bridge_published_total',
      'orders_live_bridge_publish_seconds',
      'orders_live_bridge_capture_to_numbered_seconds',
      'orders_live_bridge_numbered_to_handed_seconds',
      'orders_live_bridge_is_leader',
      'orders_live_bridge_active',
      'orders_live_bridge_reconnects_total',
      'orders_live_bridge_failures_total',
      'orders_live_bridge_retention_deleted_total',
      'orders_live_bridge_events_published_total',
      'orders_live_bridge_events_behind',
    ]);
  });

  it('reads the backlog once per scrape for both gauges', async () => {
    const registry = new Registry();
    let probes = 0;
    createBridgeMetrics(registry, {
      backlog: async () => {
        probes += 1;
        return { count: 7, lagSeconds: 1.5 };
      },
    });
    const text = await registry.metrics();
    expect(probes).toBe(1);
    expect(text).toMatch(/^orders_live_bridge_backlog 7$/m);
    expect(text).toMatch(/^orders_live_bridge_lag_seconds 1\.5$/m);
  });

  it('labels reconnects by link and failures by stage', async () => {
    const registry = new Registry();
    const metrics = createBridgeMetrics(registry, { backlog: async () => ({ count: 0, lagSeconds: 0 }) });
    metrics.reconnects.inc({ link: 'amqp' });
    metrics.failures.inc({ stage: 'relay' });
    const text = await registry.metrics();
    expect(text).toMatch(/^orders_live_bridge_reconnects_total\{link="amqp"\} 1$/m);
    expect(text).toMatch(/^orders_live_bridge_failures_total\{stage="relay"\} 1$/m);
  });
});
