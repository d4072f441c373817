// The client library's errors: one class per thing an application can act on, each with a `code`
// (stable, for `switch`) and a one-line message that says what to do.

export type OrdersLiveErrorCode =
  | 'unauthorized'
  | 'resync'
  | 'bad-filter'
  | 'refused'
  | 'request-failed'
  | 'listener-threw';

export class OrdersLiveError extends Error {
  readonly code: OrdersLiveErrorCode;
  constructor(code: OrdersLiveErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OrdersLiveError';
    this.code = code;
  }
}

/** The server needs a valid token (its API_TOKENS is set) and the one given is missing or wrong. */
export class UnauthorizedError extends OrdersLiveError {
  constructor(message = 'unauthorized: a valid token is required') {
    super('unauthorized', message);
    this.name = 'UnauthorizedError';
  }
}

/**
 * The gateway cannot serve the position asked for (older than retention, or unknown to it).
 * Rebuild your state from a snapshot (GET /orders) and follow again from its X-Event-Position.
 */
export class ResyncError extends OrdersLiveError {
  /** The last position delivered before the resync. */
  readonly position: number | undefined;
  readonly reason: string;
  constructor(reason: string, position: number | undefined) {
    super('resync', `cannot resume after position ${position ?? 'none'}: ${reason}; reload a snapshot`);
    this.name = 'ResyncError';
    this.reason = reason;
    this.position = position;
  }
}

/** The filter is not one the contract allows: `{ status?: OrderStatus[], order_id?: number }`. */
export class BadFilterError extends OrdersLiveError {
  constructor(message: string) {
    super('bad-filter', message);
    this.name = 'BadFilterError';
  }
}

/** The gateway refused the handshake for another reason than the token or the filter. */
export class RefusedError extends OrdersLiveError {
  constructor(message: string) {
    super('refused', message);
    this.name = 'RefusedError';
  }
}

/** A REST request (the snapshot's pages) failed; `status` is 0 when the server did not answer. */
export class RequestError extends OrdersLiveError {
  readonly status: number;
  constructor(status: number, message: string) {
    super('request-failed', message);
    this.name = 'RequestError';
    this.status = status;
  }
}

/**
 * A listener (or callback) of the application threw; `cause` is what it threw. Never fatal: the
 * stream and the model went on without it. Fix the listener.
 */
export class ListenerError extends OrdersLiveError {
  /** Which one: the event ('change', 'status', 'event', 'reset', 'error') or callback ('onStatus'). */
  readonly listener: string;
  constructor(listener: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super('listener-threw', `a '${listener}' listener threw: ${reason}; the stream went on without it`, {
      cause,
    });
    this.name = 'ListenerError';
    this.listener = listener;
  }
}

/** Any failure as one of ours: what is not already is a RequestError with no answer. */
export function toOrdersLiveError(e: unknown): OrdersLiveError {
  if (e instanceof OrdersLiveError) return e;
  return new RequestError(0, e instanceof Error ? e.message : String(e));
}

/** The error a refused handshake stands for: a 401 is the token, else the filter or something else. */
export function refusalError(refusal: { status: number; message: string }): OrdersLiveError {
  const { status, message } = refusal;
  if (status === 401) return new UnauthorizedError(message);
  return /filter/.test(message) ? new BadFilterError(message) : new RefusedError(message);
}
