// The contract's values the page needs, from the zod-free module of src/contract (the schemas
// would bring zod, over half the bundle, to a page that validates nothing).

export { ORDER_STATUSES } from '../../src/contract/constants.js';
