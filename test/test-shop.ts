import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createTestVhost, dropDatabase, type TestVhost } from '@scaleshop/platform/testing';
import { startShop, type Shop, type ShopOptions } from '../scripts/local-shop.ts';
import { callGateway, type GatewayCall } from './gateway-client.ts';

export interface TestShop extends Shop {
  vhost: TestVhost;
}

/**
 * A shop of the test file's own, every service its own process as `npm start` runs them, on
 * databases and a RabbitMQ virtual host nobody else uses; `stop()` removes them again.
 * `E2E_LOGS=1` shows the services' logs.
 */
export async function startTestShop(label: string, options: ShopOptions & { brokerUrl?: (vhostUrl: string) => string } = {}): Promise<TestShop> {
  const { brokerUrl, ...shopOptions } = options;
  const vhost = await createTestVhost(label);
  let shop: Shop;
  try {
    shop = await startShop({
      ephemeralPorts: true,
      databasePrefix: `${label}_${randomBytes(4).toString('hex')}_`,
      // A test may route the services to its virtual host another way (through a proxy it opens and closes).
      rabbitMqUrl: brokerUrl ? brokerUrl(vhost.url) : vhost.url,
      output: process.env.E2E_LOGS ? 'pretty' : 'silent',
      ...shopOptions,
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

const finalStatuses = new Set(['completed', 'rejected', 'payment_failed']);

/** What the end-to-end tests do as shoppers and as the admin, against one test shop. */
export function shopTools(shop: Shop) {
  const call = (method: string, path: string, options?: GatewayCall) => callGateway(shop.gatewayUrl, method, path, options);
  return {
    call,

    async shopper(name: string): Promise<{ token: string; email: string }> {
      const email = `${name}-${randomBytes(4).toString('hex')}@example.com`;
      assert.equal((await call('POST', '/api/auth/register', { body: { email, password: 'password123', name } })).status, 201);
      const login = await call('POST', '/api/auth/login', { body: { email, password: 'password123' } });
      return { token: login.body.access_token, email };
    },

    async adminToken(): Promise<string> {
      return (await call('POST', '/api/auth/login', { body: { email: 'admin@example.com', password: 'admin123' } })).body.access_token;
    },

    /** The order once final, or as it stands at the deadline. */
    async untilFinal(orderId: string, token: string, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const order = await call('GET', `/api/orders/${orderId}`, { token });
        if (finalStatuses.has(order.body.status) || Date.now() > deadline) return order.body;
        await sleep(50);
      }
    },

    async newProduct(adminToken: string, stock: number, price = '10.00') {
      const created = await call('POST', '/api/products', { token: adminToken, body: { name: `Item ${randomBytes(4).toString('hex')}`, price, stock, category: 'Accessories' } });
      assert.equal(created.status, 201);
      return created.body as { id: number; name: string; stock: number };
    },

    async caughtMail(subjectPart: string, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { items } = (await (await fetch(`${shop.mailCatcher!.url}/api/messages`)).json()) as { items: Array<{ subject: string; to: string; message_id: string }> };
        const matching = items.filter((mail) => mail.subject.includes(subjectPart));
        if (matching.length > 0 || Date.now() > deadline) return matching;
        await sleep(100);
      }
    },

    async countRows(service: 'payment' | 'email', query: string, values: unknown[]): Promise<number> {
      const client = new pg.Client(shop.databaseUrls[service]);
      await client.connect();
      try {
        return (await client.query(query, values)).rows[0].n;
      } finally {
        await client.end();
      }
    },
  };
}
