/**
 * A stand-in OTLP/HTTP collector for `npm run bench:tracing`: accepts every export (protobuf or
 * JSON), counts it and drops it. Its own process, so it takes no time from the load generator.
 * GET /stats answers how many exports and bytes it took.
 */
import { createServer } from 'node:http';

let exports = 0;
let bytes = 0;
const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/stats') {
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ exports, bytes }));
    return;
  }
  request.on('data', (chunk: Buffer) => (bytes += chunk.length));
  request.on('end', () => {
    exports++;
    const json = (request.headers['content-type'] ?? '').includes('json');
    response.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : undefined);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 4318), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
