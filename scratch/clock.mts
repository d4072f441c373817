import pg from 'pg';
const c = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/scratch27' });
await c.connect();
for (let i = 0; i < 5; i++) {
  const t0 = performance.timeOrigin + performance.now();
  const d0 = Date.now();
  const { rows } = await c.query('SELECT extract(epoch from clock_timestamp())::float8 * 1000 AS t');
  const t1 = performance.timeOrigin + performance.now();
  console.log('pg - mid(perf)', (rows[0].t - (t0 + t1) / 2).toFixed(3), 'Date - perf', (d0 - t0).toFixed(3), 'rt', (t1 - t0).toFixed(3));
}
await c.end();
