/**
 * `npm run api -w services/storefront`: writes the gateway's OpenAPI document, as a test shop
 * serves it at /docs/openapi.json, to services/storefront/openapi.json, and the storefront's API
 * types generated from it. Run it after changing a route's schema; a test fails until then.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestShop } from '../../../test/test-shop.ts';
import { repositoryRoot } from '../../../scripts/local-shop.ts';
import { generatedApiTypes, generatedTypesPath, openApiSnapshotPath, renderOpenApiSnapshot } from './api-types.ts';

const shop = await startTestShop('openapi');
try {
  const document = await (await fetch(`${shop.gatewayUrl}/docs/openapi.json`)).json();
  const snapshot = renderOpenApiSnapshot(document);
  writeFileSync(join(repositoryRoot, openApiSnapshotPath), snapshot);
  // From the snapshot as written (keys sorted), as the test that holds the types to it generates them.
  writeFileSync(join(repositoryRoot, generatedTypesPath), await generatedApiTypes(JSON.parse(snapshot)));
  process.stdout.write(`wrote ${openApiSnapshotPath} and ${generatedTypesPath}\n`);
} finally {
  await shop.stop();
}
