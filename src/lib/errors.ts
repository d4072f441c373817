// The one error model: errors with a stable `code` and an HTTP status, and `toError` for
// everything a `catch` can receive. No I/O.

export class AppError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, message: string, status = 500, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.status = status;
  }
}

/** Whatever was thrown, as an Error (a thrown string or object keeps its text). */
export function toError(e: unknown): Error {
  if (e instanceof Error) return e;
  if (typeof e === 'string') return new Error(e);
  try {
    return new Error(JSON.stringify(e));
  } catch {
    return new Error(String(e));
  }
}

/** The PostgreSQL SQLSTATE of an error from `pg`, if it has one. */
export function pgCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** Node errnos that mean "no usable connection", from pg or amqplib alike. */
const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
/** What pg says when a connection could not be made or was lost. */
const CONNECTION_MESSAGES =
  /timeout exceeded when trying to connect|Connection terminated|not queryable|Cannot use a pool after calling end/i;

/** Whether `e` means the connection failed or was lost (not that a request was refused). */
export function isConnectionError(e: unknown): boolean {
  const errno = (e as { code?: unknown } | null)?.code;
  return (
    (typeof errno === 'string' && CONNECTION_ERRNOS.has(errno)) ||
    CONNECTION_MESSAGES.test(toError(e).message)
  );
}
