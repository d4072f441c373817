// Shipped orders, live, in a page served by orders-live (/examples/shipped-orders.html).
import { liveOrders } from '../client/orders-live-client.js';

const status = document.getElementById('status');
const list = document.getElementById('changes');
const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? undefined;
const orders = await liveOrders({ token, filter: { status: ['shipped'] } }); // the page's origin
status.textContent = `shipped: ${orders.size}, live after position ${orders.position}`;
orders.on('status', (s, detail) => (status.textContent = `${s} ${detail ?? ''}`));
orders.on('change', ({ kind, event }, order = event.order) => {
  const item = document.createElement('li');
  item.textContent = `${kind} #${order?.id ?? '*'} ${order?.customer_name ?? ''} by ${event.actor} (${event.source})`;
  list.prepend(item);
});
