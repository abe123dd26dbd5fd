/**
 * The shop's side of a chaos run's history: read straight from each service's database, the mail
 * catcher and the broker, as the checker needs it. Each read is one query on the service's own
 * database (never through the services, whose answers are what is being judged).
 */
import pg from 'pg';
import { peekDeadLetters, summarizeQueues, type QueueName } from '@scaleshop/platform';
import { finalStatuses, type OrderRow, type ShopState } from './history.ts';
import type { MailCatcher } from '../mail-catcher.ts';

async function query<T>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, application_name: 'chaos-checker' });
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * Per product, its stock plus the units active reservations hold, in one statement: what it had
 * before any order still holding stock took from it, whenever this is read.
 */
export async function readStockBaseline(productDatabaseUrl: string): Promise<Record<string, number>> {
  const rows = await query<{ id: number; stock: number }>(
    productDatabaseUrl,
    `select p.id, p.stock + coalesce((
       select sum((line->>'quantity')::int) from reservations r, jsonb_array_elements(r.items) line
       where r.status = 'reserved' and (line->>'product_id')::int = p.id), 0)::int as stock
     from products p`,
  );
  return Object.fromEntries(rows.map((row) => [String(row.id), Number(row.stock)]));
}

export interface StateSources {
  databaseUrls: { order: string; payment: string; product: string };
  brokerUrl: string;
  mailCatcher: Pick<MailCatcher, 'messages'>;
  initialStock: Record<string, number>;
}

export async function readShopState(sources: StateSources): Promise<ShopState> {
  const { order, payment, product } = sources.databaseUrls;
  const [orders, payments, reservations, stockRows, queues] = await Promise.all([
    query<OrderRow>(
      order,
      `select o.id, o.status, o.idempotency_key,
         coalesce(json_agg(json_build_object('product_id', i.product_id, 'quantity', i.quantity)) filter (where i.order_id is not null), '[]') as items
       from orders o left join order_items i on i.order_id = o.id group by o.id`,
    ),
    query<ShopState['payments'][number]>(payment, 'select order_id, status from payments'),
    query<ShopState['reservations'][number]>(product, 'select order_id, status, items from reservations'),
    query<{ id: number; stock: number }>(product, 'select id, stock from products'),
    summarizeQueues(sources.brokerUrl),
  ]);
  const deadLetters: ShopState['deadLetters'] = [];
  for (const queue of queues) {
    const messages = queue.deadLetters ?? 0;
    const reasons = messages > 0 ? (await peekDeadLetters(sources.brokerUrl, queue.queue as QueueName, 20)).map((letter) => `${letter.type ?? 'a message'}: ${letter.lastError ?? 'no error recorded'}`) : [];
    deadLetters.push({ queue: `${queue.queue}.dlq`, messages, reasons });
  }
  return {
    orders,
    payments,
    reservations,
    initialStock: sources.initialStock,
    stock: Object.fromEntries(stockRows.map((row) => [String(row.id), Number(row.stock)])),
    emails: sources.mailCatcher.messages().map((mail) => ({ message_id: mail.message_id, to: mail.to, subject: mail.subject })),
    deadLetters,
  };
}

/**
 * Whether the shop has caught up: every order final, nothing waiting in a saga queue, nothing
 * unpublished in any outbox. Answers what is still outstanding, or undefined when quiet.
 */
export async function outstandingWork(databaseUrls: readonly string[], orderDatabaseUrl: string, brokerUrl: string): Promise<string | undefined> {
  const finals = finalStatuses.map((status) => `'${status}'`).join(', ');
  const [pending] = await query<{ count: string }>(orderDatabaseUrl, `select count(*) from orders where status not in (${finals})`);
  if (Number(pending!.count) > 0) return `${pending!.count} order(s) not final`;
  for (const url of databaseUrls) {
    const [unpublished] = await query<{ count: string }>(url, 'select count(*) from outbox where published_at is null');
    if (Number(unpublished!.count) > 0) return `${unpublished!.count} event(s) unpublished in ${new URL(url).pathname.slice(1)}`;
  }
  const waiting = (await summarizeQueues(brokerUrl)).filter((queue) => (queue.waiting ?? 0) > 0);
  if (waiting.length > 0) return `messages waiting in ${waiting.map((queue) => queue.queue).join(', ')}`;
  return undefined;
}
