// The two values of src/contract the page needs, mirrored: importing them from there would also
// evaluate the contract's zod schemas, which no bundler can drop, and add zod (85 kB, over half
// the bundle) to a page that validates nothing. The page imports the contract's types only, and
// these mirrors are checked against them: a change there fails `tsc -p web/tsconfig.json` here,
// and test/unit/web-contract-values.test.ts compares the values themselves.

import type { OrderStatus } from '../../src/contract/events.js';
import type { SOCKET_PATH as CONTRACT_SOCKET_PATH } from '../../src/contract/socket.js';

/** In workflow order, as the contract lists them (the table sorts statuses in this order). */
export const ORDER_STATUSES = [
  'pending',
  'processing',
  'shipped',
  'delivered',
  'cancelled',
] as const satisfies readonly OrderStatus[];

/** Fails to compile when the contract has a status this list lacks. */
type Exhaustive<Missing extends never> = Missing;
export type EveryStatusListed = Exhaustive<Exclude<OrderStatus, (typeof ORDER_STATUSES)[number]>>;

export const SOCKET_PATH: typeof CONTRACT_SOCKET_PATH = '/socket.io';
