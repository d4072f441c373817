// `orders-live tail`: live events in the terminal through a gateway, one line each (or JSON
// lines), resumable with --since. The client library (orders-live/client) does the following:
// exactly once, in order, resuming where it stopped on every reconnect, on the next of several
// gateways (--url a,b). A position older than retention continues live from now, said on stderr.

import { events, OrdersLiveError, ResyncError } from '../client/index.js';
import { ORDER_STATUSES, type OrderStatus } from '../contract/events.js';
import { formatEvent } from './event-line.js';

export interface TailOptions {
  /** One gateway, or several separated by commas. */
  url: string;
  since?: number;
  status?: OrderStatus[];
  json: boolean;
  token?: string;
  colour: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Validates --status: a comma-separated list of the five statuses. */
export function parseStatuses(raw: string): OrderStatus[] | string {
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((s) => !ORDER_STATUSES.includes(s as OrderStatus));
  if (list.length === 0 || bad.length > 0) return `--status takes ${ORDER_STATUSES.join(', ')}; got "${raw}"`;
  return list as OrderStatus[];
}

/** Runs until the signal aborts; resolves with the exit code. */
export async function tail(options: TailOptions, signal: AbortSignal): Promise<number> {
  const urls = options.url.split(',').map((u) => u.trim());
  let since = options.since;
  while (!signal.aborted) {
    /** "live at …" waits until the events replayed before it are printed: said in order. */
    let liveAfter: number | undefined;
    const sayLive = (at: number | undefined) => options.err(`live at position ${at ?? 0} (${options.url})`);
    const stream = events({
      url: urls,
      token: options.token,
      since,
      filter: options.status ? { status: options.status } : undefined,
      signal,
      onStatus(status, detail) {
        if (status === 'live') {
          if (stream.buffered === 0) sayLive(stream.position);
          else liveAfter = stream.position;
        }
        if (status === 'reconnecting')
          options.err(`disconnected (${detail}); reconnecting from ${stream.position ?? 'now'}`);
        if (status === 'connecting' && detail)
          options.err(`cannot connect to ${options.url} (${detail}); retrying`);
      },
    });
    try {
      for await (const event of stream) {
        options.out(options.json ? JSON.stringify(event) : formatEvent(event, options.colour));
        if (liveAfter !== undefined && event.position >= liveAfter) {
          sayLive(liveAfter);
          liveAfter = undefined;
        }
      }
      return 0;
    } catch (e) {
      if (e instanceof ResyncError) {
        options.err(`cannot resume from ${e.position}: ${e.reason}; continuing live from now`);
        since = undefined;
        continue;
      }
      // A refused token or filter will not get better by retrying.
      options.err(`refused: ${e instanceof OrdersLiveError ? e.message : String(e)}`);
      return 1;
    }
  }
  return 0;
}
