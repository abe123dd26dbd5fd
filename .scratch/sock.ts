import pg from 'pg';
for (const [label, cs] of [['tcp', 'postgres://postgres@127.0.0.1:5432/postgres'], ['unix', 'postgres://postgres@%2Fvar%2Frun%2Fpostgresql/postgres']] as const) {
  const pool = new pg.Pool({ connectionString: cs, max: 8 });
  await Promise.all(Array.from({ length: 8 }, () => pool.query('select 1')));
  const t0 = performance.now(); const c0 = process.cpuUsage();
  let n = 0;
  await Promise.all(Array.from({ length: 8 }, async () => { for (let i = 0; i < 3000; i++) { await pool.query({ name: 'q', text: 'select $1::int', values: [i] }); n++; } }));
  const ms = performance.now() - t0; const c = process.cpuUsage(c0);
  console.log(label, (n / ms * 1000).toFixed(0), 'q/s', 'node cpu/q µs', ((c.user + c.system) / n).toFixed(1));
  await pool.end();
}
