import { randomBytes } from 'node:crypto';
import { createTestVhost, dropDatabase, type TestVhost } from '@scaleshop/platform/testing';
import { startShop, type Shop, type ShopOptions } from '../scripts/local-shop.ts';

export interface TestShop extends Shop {
  vhost: TestVhost;
}

/**
 * A shop of the test file's own, every service its own process as `npm start` runs them, on
 * databases and a RabbitMQ virtual host nobody else uses; `stop()` removes them again.
 * `E2E_LOGS=1` shows the services' logs.
 */
export async function startTestShop(label: string, options: ShopOptions = {}): Promise<TestShop> {
  const vhost = await createTestVhost(label);
  let shop: Shop;
  try {
    shop = await startShop({
      ephemeralPorts: true,
      databasePrefix: `${label}_${randomBytes(4).toString('hex')}_`,
      rabbitMqUrl: vhost.url,
      output: process.env.E2E_LOGS ? 'pretty' : 'silent',
      ...options,
    });
  } catch (error) {
    await vhost.drop();
    throw error;
  }
  return {
    ...shop,
    vhost,
    async stop() {
      await shop.stop();
      for (const url of Object.values(shop.databaseUrls)) await dropDatabase(url);
      await vhost.drop();
    },
  };
}
