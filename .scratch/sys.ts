import { writeSync, openSync } from 'node:fs';
const fd = openSync('/dev/null', 'w');
const c0 = process.cpuUsage(); const t0 = performance.now();
for (let i = 0; i < 200000; i++) writeSync(fd, 'x');
const c = process.cpuUsage(c0);
console.log('write /dev/null µs/call', ((performance.now() - t0) * 1000 / 200000).toFixed(2), 'cpu user', (c.user/200000).toFixed(2), 'sys', (c.system/200000).toFixed(2));
