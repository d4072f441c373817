// How values read on the page: times in the viewer's zone, changes as "status: pending → shipped",
// durations in ms or s. Pure functions.

const TIME = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  fractionalSecondDigits: 3,
  hour12: false,
});
const CLOCK = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});
const DATE_SECONDS = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});
const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});

/** Column names as the table heads say them. */
const FIELD_LABELS: Record<string, string> = {
  customer_name: 'customer',
  product_name: 'product',
  status: 'status',
};

/** 10:04:05.123, or the raw text when it is not a date. */
export function formatTime(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : TIME.format(ms);
}

/** 10:04:05 today, Nov 24, 10:04 on another day. */
export function formatDateTime(iso: string, now = new Date()): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(ms).toDateString() === now.toDateString() ? CLOCK.format(ms) : DATE_TIME.format(ms);
}

/** 10:04:05.123 today, Nov 24, 10:04:05 on another day: an order's history spans days. */
export function formatMoment(iso: string, now = new Date()): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  return new Date(ms).toDateString() === now.toDateString() ? TIME.format(ms) : DATE_SECONDS.format(ms);
}

/** `status: pending → shipped; customer: Ann → Anna` */
export function describeChanges(changes: Readonly<Record<string, readonly [unknown, unknown]>>): string {
  return Object.entries(changes)
    .map(([field, [from, to]]) => `${fieldLabel(field)}: ${formatValue(from)} → ${formatValue(to)}`)
    .join('; ');
}

/** A column as the table heads name it: `customer` for customer_name. */
export function fieldLabel(field: string): string {
  return FIELD_LABELS[field] ?? field;
}

/** 12 ms, 1.2 s */
export function formatMs(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/** A field's value as text: strings as they are, anything else as JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value) ?? 'null';
}
