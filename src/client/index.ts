// orders-live/client: exactly-once live orders for any application, in the browser and in Node.
//
//   const orders = await liveOrders({ url: 'http://127.0.0.1:3000', token });
//   orders.on('change', (change, order) => console.log(change.kind, order));
//
//   for await (const event of events({ url, token, since: 41 })) store(event);
//
// ESM, no Node-only imports: Vite and Node take the same module. See README, "Use it from your
// code", and docs/design.md, "The client library".

export type { EventOp, EventSource, OrderStatus } from '../contract/constants.js';
export { ORDER_STATUSES } from '../contract/constants.js';
export type { Order, OrderEvent } from '../contract/events.js';
export type { EventFilter } from '../contract/socket.js';
export {
  BadFilterError,
  ListenerError,
  OrdersLiveError,
  type OrdersLiveErrorCode,
  RefusedError,
  RequestError,
  ResyncError,
  UnauthorizedError,
} from './errors.js';
export { type EventStream, type EventsOptions, events } from './events.js';
export {
  type ChangeKind,
  createLiveOrders,
  type LiveOrders,
  type LiveOrdersEvents,
  type LiveOrdersOptions,
  liveOrders,
  type OrderChange,
} from './live-orders.js';
export type { ConnectOptions } from './options.js';
export type { LiveStatus, SessionStats } from './session.js';
export type { Link, LinkHandlers, LinkRequest, Transport } from './transport.js';
