// Prints every change to shipped orders, live: `node examples/shipped-orders.mjs`.
import { liveOrders } from 'orders-live/client';

const orders = await liveOrders({
  url: process.env.ORDERS_LIVE_URL ?? 'http://127.0.0.1:3000',
  token: process.env.ORDERS_LIVE_TOKEN, // when the server has API_TOKENS
  filter: { status: ['shipped'] },
});
console.log(`shipped: ${orders.size}, live after position ${orders.position}`);
orders.on('change', ({ kind, event }, order = event.order) => {
  console.log(
    `${kind} #${order?.id ?? '*'} ${order?.customer_name ?? ''} by ${event.actor} (${event.source})`,
  );
});
process.once('SIGINT', () => orders.close());
