// The client's driver (src/client/driver.ts) when something it calls throws: a callback, the
// token function, the transport. The commands after it and the inputs queued meanwhile still run,
// and the session is never left waiting for a link or a timer that does not exist.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDriver, type DriverOptions } from '../../src/client/driver.js';
import { createSession } from '../../src/client/session.js';
import { fakeGateways } from '../helpers/client-fakes.js';
import { envelopes } from '../helpers/events.js';

function driven(overrides: Partial<DriverOptions> = {}) {
  const gw = fakeGateways();
  const session = createSession({
    urls: 2,
    snapshot: false,
    since: 0,
    contiguous: true,
    refusalIsFatal: true,
    retry: { baseMs: 500, capMs: 5_000, random: () => 0.5 },
  });
  const errors: { error: Error; fatal: boolean }[] = [];
  const driver = createDriver({
    session,
    urls: ['http://a', 'http://b'],
    apiUrls: [],
    path: '/socket.io',
    token: () => undefined,
    filter: () => undefined,
    transport: gw.transport,
    fetch: (() => Promise.reject(new Error('no fetch here'))) as typeof fetch,
    onDeliver: () => undefined,
    onStatus: () => undefined,
    onError: (error, fatal) => errors.push({ error, fatal }),
    ...overrides,
  });
  return { gw, session, driver, errors };
}

describe('client driver', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs the inputs queued by a callback that then throws', () => {
    const boom = new Error('boom');
    const delivered: number[] = [];
    const t = driven({
      onDeliver(events) {
        delivered.push(...events.map((e) => e.position));
        t.driver.send({ type: 'close' });
        throw boom;
      },
    });
    t.driver.send({ type: 'start' });
    expect(() => t.gw.last().on.events(envelopes(1, 2))).not.toThrow();
    expect(delivered).toEqual([1, 2]);
    expect(t.session.status).toBe('closed');
    expect(t.gw.last().closed).toBe(true);
    expect(t.errors).toEqual([
      {
        error: expect.objectContaining({ code: 'listener-threw', listener: 'onDeliver', cause: boom }),
        fatal: false,
      },
    ]);
  });

  it('runs the commands after one whose callback throws: the retry is still scheduled', async () => {
    const t = driven({
      onStatus(status) {
        if (status === 'reconnecting') throw new Error('boom');
      },
    });
    t.driver.send({ type: 'start' });
    t.gw.last().on.open();
    t.gw.last().on.ready(0);
    expect(() => t.gw.last().on.events([...envelopes(1, 1), ...envelopes(3, 3)])).not.toThrow();
    expect(t.gw.last().closed).toBe(true);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.gw.links).toHaveLength(2);
    expect(t.gw.last().request).toMatchObject({ url: 'http://b', auth: { since: 1 } });
    expect(t.errors.map((e) => e.error)).toMatchObject([{ listener: 'onStatus' }]);
  });

  it('takes a link that cannot be opened (the token function threw) as lost, and retries', async () => {
    let calls = 0;
    const t = driven({
      token() {
        calls += 1;
        if (calls === 1) throw new Error('no token yet');
        return 'secret';
      },
    });
    expect(() => t.driver.send({ type: 'start' })).not.toThrow();
    expect(t.gw.links).toHaveLength(0);
    expect(t.session.status).toBe('connecting');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(t.gw.links).toHaveLength(1);
    expect(t.gw.last().request).toMatchObject({ url: 'http://b', auth: { since: 0, token: 'secret' } });
  });

  it('reports an onError that throws to the console once, not to onError again', () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      let calls = 0;
      const t = driven({
        onStatus() {
          throw new Error('status boom');
        },
        onError() {
          calls += 1;
          throw new Error('error boom');
        },
      });
      t.driver.send({ type: 'start' });
      t.gw.last().on.open();
      expect(calls).toBe(1);
      expect(consoleError).toHaveBeenCalledTimes(1);
      expect(consoleError.mock.calls[0]![0]).toMatchObject({ code: 'listener-threw', listener: 'onError' });
    } finally {
      consoleError.mockRestore();
    }
  });
});
