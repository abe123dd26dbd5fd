import { readFile } from 'node:fs/promises';
import { sql, type Kysely, type Migration, type Transaction } from 'kysely';
import { Value } from 'typebox/value';
import { Type, type TObject, type TOptional, type TNumber, type TInteger } from 'typebox';
import { requireAdminCaller, callerOf } from './identity.ts';
import { badRequest } from './errors.ts';
import { errorResponses, type App } from './http-app.ts';
import { listenForNotifications } from './database/notifications.ts';
import type { Logger } from './logger.ts';

/**
 * Fault knobs a service lets an admin turn while it runs (the payment provider's failure rate
 * and latency, the email provider's latency): kept in the service's own database, so every
 * replica sees one value, and announced with NOTIFY, so each picks a change up at once. A knob
 * never set keeps the value the service was configured with.
 */
export interface KnobSpec {
  description: string;
  min: number;
  max: number;
  integer: boolean;
}

export type KnobValues<K extends string> = Record<K, number>;

/**
 * Every service's fault knobs, in one place: the service serves them, and the gateway's
 * PUT /api/admin/faults validates a change against the same bounds before passing it on.
 */
export const faultKnobs = {
  payment: {
    failure_rate: { description: 'share of charges within the limit declined at random (PAYMENT_FAILURE_RATE)', min: 0, max: 1, integer: false },
    latency_ms: { description: 'how long the simulated provider takes to answer a charge (PAYMENT_LATENCY_MS)', min: 0, max: 60_000, integer: true },
  },
  email: {
    latency_ms: { description: 'added before each send, standing in for a slow email provider (EMAIL_LATENCY_MS)', min: 0, max: 60_000, integer: true },
  },
} as const satisfies Record<string, Record<string, KnobSpec>>;

export const runtimeKnobsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('runtime_knobs')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'double precision', (c) => c.notNull())
      .addColumn('updated_by', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
  },
};

const channel = 'runtime_knobs';

/** Who a change through the Shop's spec is recorded as (updated_by). */
export const shopSpecAuthor = 'shop-spec';
/** The row that remembers the spec's last value of a knob, beside the knob's own row. */
const specRow = (name: string) => `${shopSpecAuthor}:${name}`;

export interface RuntimeKnobs<K extends string> {
  /** The values in force now: a synchronous read, cheap enough for every charge. */
  current(): KnobValues<K>;
  /** Stores the changes (validated by the route), tells every replica, and answers the values now in force. */
  set(changes: Partial<KnobValues<K>>, by: string): Promise<KnobValues<K>>;
  /**
   * Sets the knobs whose value in the Shop's spec changed since the spec last set them, and
   * answers their names. Every replica reads the same file and calls this; the first to do so
   * sets them, the others find nothing changed, and a replica that starts later does not undo an
   * admin's change made since (the spec did not change).
   */
  applySpec(values: Partial<KnobValues<K>>): Promise<K[]>;
  ready: Promise<void>;
  close(): Promise<void>;
}

interface KnobTables {
  runtime_knobs: { name: string; value: number; updated_by: string; updated_at: Date };
}

export function startRuntimeKnobs<K extends string>(options: {
  db: Kysely<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- any service database with the runtime_knobs table
  databaseUrl: string;
  logger: Logger;
  /** What the service was configured with: in force until a knob is set. */
  defaults: KnobValues<K>;
  /**
   * The knobs of the Shop's spec, as a JSON file (a ConfigMap volume in the cluster, which the
   * kubelet refreshes in place): read at start and then every intervalMs, and applied through
   * applySpec when its content changes. Unset: no file (local mode).
   */
  specFile?: { path: string; specs: Record<K, KnobSpec>; intervalMs?: number };
}): RuntimeKnobs<K> {
  const { logger, defaults } = options;
  const db = options.db as Kysely<KnobTables>;
  let values: KnobValues<K> = { ...defaults };
  const names = Object.keys(defaults) as K[];

  const reload = async () => {
    const rows = await db.selectFrom('runtime_knobs').select(['name', 'value']).execute();
    const next = { ...defaults };
    for (const row of rows) if ((names as string[]).includes(row.name)) next[row.name as K] = Number(row.value);
    values = next;
  };
  const listener = listenForNotifications({
    url: options.databaseUrl,
    channel,
    logger,
    onNotification: () => void reload().catch((error: unknown) => logger.warn({ err: error }, 'could not read the runtime knobs')),
    // A change made while this replica was not listening is read on reconnecting.
    onReconnect: () => void reload().catch(() => {}),
  });
  const upsert = (trx: Transaction<KnobTables>, name: string, value: number, by: string) =>
    trx
      .insertInto('runtime_knobs')
      .values({ name, value, updated_by: by, updated_at: new Date() })
      .onConflict((conflict) => conflict.column('name').doUpdateSet({ value, updated_by: by, updated_at: new Date() }))
      .execute();

  const knobs: Pick<RuntimeKnobs<K>, 'set' | 'applySpec'> = {
    async set(changes, by) {
      const before = { ...values };
      await db.transaction().execute(async (trx) => {
        for (const [name, value] of Object.entries(changes) as Array<[K, number]>) await upsert(trx, name, value, by);
        await sql`select pg_notify(${channel}, '')`.execute(trx);
      });
      await reload();
      logger.warn({ knobs_before: before, knobs_after: values, changed_by: by }, 'fault knobs changed at run time');
      return values;
    },
    async applySpec(specValues) {
      const before = { ...values };
      const changed = await db.transaction().execute(async (trx) => {
        // One replica at a time: the others then find the spec's rows already equal.
        await sql`select pg_advisory_xact_lock(hashtext(${channel}))`.execute(trx);
        const rows = await trx.selectFrom('runtime_knobs').select(['name', 'value']).where('name', 'in', names.map(specRow)).execute();
        const previous = new Map(rows.map((row) => [row.name, Number(row.value)]));
        const applied: K[] = [];
        for (const [name, value] of Object.entries(specValues) as Array<[K, number]>) {
          if (!names.includes(name) || previous.get(specRow(name)) === value) continue;
          await upsert(trx, name, value, shopSpecAuthor);
          await upsert(trx, specRow(name), value, shopSpecAuthor);
          applied.push(name);
        }
        if (applied.length > 0) await sql`select pg_notify(${channel}, '')`.execute(trx);
        return applied;
      });
      if (changed.length === 0) return changed;
      await reload();
      logger.warn({ knobs_before: before, knobs_after: values, changed_by: shopSpecAuthor, knobs: changed }, 'fault knobs changed by the Shop spec');
      return changed;
    },
  };

  // The spec's file is read once this replica has the values in force, then polled.
  let stopWatching = () => {};
  const ready = listener.ready.then(reload).then(async () => {
    if (options.specFile) stopWatching = await watchSpecFile(options.specFile, knobs.applySpec, logger);
  });
  return {
    ...knobs,
    current: () => values,
    ready,
    async close() {
      stopWatching();
      await listener.close();
    },
  };
}

/**
 * Reads the spec's knob file now (a missing or bad file at start is logged, not fatal: the
 * knobs keep their values), then polls it: the kubelet replaces a ConfigMap volume's files by
 * swapping a symlink, which a poll of the content sees however it is done.
 */
async function watchSpecFile<K extends string>(file: NonNullable<Parameters<typeof startRuntimeKnobs<K>>[0]['specFile']>, applySpec: RuntimeKnobs<K>['applySpec'], logger: Logger): Promise<() => void> {
  const schema = knobsBodySchema(file.specs);
  let last: string | undefined;
  let running: Promise<void> = Promise.resolve();
  const check = async () => {
    let text: string;
    try {
      text = await readFile(file.path, 'utf8');
    } catch (error) {
      if (last !== undefined) logger.warn({ err: error, path: file.path }, 'could not read the fault knobs file');
      return;
    }
    if (text === last) return;
    let values: unknown;
    try {
      values = JSON.parse(text);
    } catch {
      values = undefined;
    }
    if (!Value.Check(schema, values)) {
      last = text;
      logger.error({ path: file.path, problems: [...Value.Errors(schema, values)].map((problem) => `${problem.instancePath || '/'} ${problem.message}`) }, 'the fault knobs file is not valid: ignored');
      return;
    }
    try {
      await applySpec(values as Partial<KnobValues<K>>);
      last = text;
    } catch (error) {
      // Not remembered: the next poll tries again.
      logger.warn({ err: error, path: file.path }, 'could not apply the fault knobs file');
    }
  };
  await check();
  const timer = setInterval(() => {
    running = running.then(check);
  }, file.intervalMs ?? 5_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** The request body of PUT /admin/faults: each knob optional, within its bounds, nothing else. */
export function knobsBodySchema<K extends string>(specs: Record<K, KnobSpec>): TObject<Record<K, TOptional<TNumber | TInteger>>> {
  const properties = Object.fromEntries(
    Object.entries<KnobSpec>(specs).map(([name, spec]) => [
      name,
      Type.Optional(spec.integer ? Type.Integer({ minimum: spec.min, maximum: spec.max, description: spec.description }) : Type.Number({ minimum: spec.min, maximum: spec.max, description: spec.description })),
    ]),
  );
  return Type.Object(properties, { additionalProperties: false, minProperties: 1 }) as unknown as TObject<Record<K, TOptional<TNumber | TInteger>>>;
}

/**
 * The body's knobs, or a 400 naming them when it has none: unknown fields are dropped by
 * validation (as on every route), and a change that changes nothing is a mistake to point out.
 */
export function knownKnobs<K extends string>(body: Partial<KnobValues<K>>, specs: Record<K, KnobSpec>): Partial<KnobValues<K>> {
  if (Object.keys(body).length === 0) throw badRequest(`name at least one knob: ${Object.keys(specs).join(', ')}`, 'VALIDATION_ERROR');
  return body;
}

/** GET and PUT /admin/faults on a service: admin callers only; the gateway's PUT /api/admin/faults reaches it. */
export function registerKnobRoutes<K extends string>(app: App, knobs: RuntimeKnobs<K>, specs: Record<K, KnobSpec>): void {
  const body = knobsBodySchema(specs);
  const values = Type.Object(Object.fromEntries(Object.keys(specs).map((name) => [name, Type.Number()])));
  app.get(
    '/admin/faults',
    { onRequest: requireAdminCaller, schema: { tags: ['admin'], summary: 'The fault knobs in force (admin)', response: { 200: values, ...errorResponses(401, 403) } } },
    async () => knobs.current(),
  );
  app.put(
    '/admin/faults',
    { onRequest: requireAdminCaller, schema: { tags: ['admin'], summary: 'Turn fault knobs while the service runs (admin)', body, response: { 200: values, ...errorResponses(400, 401, 403) } } },
    async (request) => knobs.set(knownKnobs(request.body as Partial<KnobValues<K>>, specs), callerOf(request).email),
  );
}
