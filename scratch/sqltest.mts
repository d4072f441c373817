import pg from 'pg';
import { NUMBER_AND_READ_SQL, createFeedLog } from '../src/bridge/feed-log.js';
async function main() {
const c = new pg.Client({ connectionString: process.argv[2] });
await c.connect();
const log = createFeedLog(c);
await c.query("INSERT INTO orders (customer_name, product_name) SELECT 'c'||i, 'p' FROM generate_series(1,7) i");
const r = await log.number(3, new Date(), 2);
console.log(r.through, r.batches.map(b => [b.first, b.last, b.events.map(e => e.position)]));
const n = await log.numbered(0, 10);
console.log(n.map(b => [b.first, b.last, b.events.map(e => e.position)]));
await c.query("DELETE FROM order_events WHERE id IN (SELECT id FROM order_event_positions(4,5))");
console.log((await log.numbered(0, 10)).map(b => [b.first, b.last, b.events.map(e => e.position)]));
console.log(await log.number(3, new Date(), 2), await log.confirmedThrough());
console.log(r.batches[0].events[0]);
await c.end();
}
main();
