/**
 * The spec of the Shop custom resource (scaleshop.dev/v1alpha1), written once as a TypeBox JSON
 * Schema. From it come: the TypeScript type of the configuration (config.ts), the CRD's
 * structural openAPIV3Schema (crd.ts), the Helm chart's values.schema.json (chart-files.ts), and
 * the check `npm run render` and the synth run before rendering (specProblems).
 *
 * The defaults are defaultConfig's (config.ts): one place for each default. Rules that cross
 * fields are CEL (`x-kubernetes-validations`), which the API server evaluates on every write and
 * which specProblems evaluates offline with the same expressions.
 */
import { evaluate } from '@marcbachmann/cel-js';
import { Type, type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { productCacheModes, type ProductCacheMode } from '@scaleshop/platform/topology';
import { appServiceNames, type AppServiceName } from './topology.ts';

export const shopGroup = 'scaleshop.dev';
export const shopVersion = 'v1alpha1';
export const shopApiVersion = `${shopGroup}/${shopVersion}`;
export const shopKind = 'Shop';
export const shopPlural = 'shops';

/** A rule over one object of the spec, in CEL: `self` is that object. */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
}

/** The key under which a schema node carries its CEL rules, as the CRD spells it. */
export const celRulesKey = 'x-kubernetes-validations';

function withRules<T extends TSchema>(schema: T, rules: readonly CelRule[]): T {
  return { ...schema, [celRulesKey]: rules };
}

const cpuMillis = (description: string) => Type.Integer({ minimum: 1, maximum: 64_000, description });
const memoryMiB = (description: string) => Type.Integer({ minimum: 1, maximum: 262_144, description });

function resourcesSchema() {
  return Type.Object(
    {
      cpu: withRules(Type.Object({ requestMillis: cpuMillis('CPU request, in millicores'), limitMillis: cpuMillis('CPU limit, in millicores') }, { additionalProperties: false }), [
        { rule: 'self.limitMillis >= self.requestMillis', message: 'the CPU limit is below its request' },
      ]),
      memory: withRules(Type.Object({ requestMiB: memoryMiB('memory request, in MiB'), limitMiB: memoryMiB('memory limit, in MiB') }, { additionalProperties: false }), [
        { rule: 'self.limitMiB >= self.requestMiB', message: 'the memory limit is below its request' },
      ]),
    },
    { additionalProperties: false, description: 'Requests and limits of the container: CPU in millicores, memory in MiB.' },
  );
}

const envNamePattern = '^[A-Z_][A-Z0-9_]*$';
const secretLikeNames = 'PASSWORD|SECRET|PRIVATE|TOKEN|DATABASE_URL|RABBITMQ_URL';

const envSchema = withRules(
  Type.Record(Type.String(), Type.String({ maxLength: 4096 }), {
    maxProperties: 64,
    description: "Extra plain settings for the service's ConfigMap, applied last (e.g. RATE_LIMIT_MAX: \"100000\"). Never secrets.",
  }),
  [
    { rule: `self.all(k, k.matches('${envNamePattern}'))`, message: 'every key must be an environment variable name ([A-Z_][A-Z0-9_]*)' },
    { rule: `self.all(k, !k.matches('${secretLikeNames}'))`, message: 'a key looks like a secret; secrets come from Secrets created outside the spec' },
  ],
);

const autoscalingSchema = withRules(
  Type.Object(
    {
      enabled: Type.Boolean({ default: false, description: 'Scale this service automatically: on CPU for an HTTP service, on queue length (KEDA) for a saga consumer.' }),
      minReplicas: Type.Integer({ minimum: 1, maximum: 100, default: 1 }),
      maxReplicas: Type.Integer({ minimum: 1, maximum: 100, default: 4 }),
      targetCPUUtilization: Type.Integer({ minimum: 1, maximum: 100, default: 70, description: 'Percent of the CPU request, for the HorizontalPodAutoscaler.' }),
      queueLength: Type.Integer({ minimum: 1, maximum: 100_000, default: 20, description: 'Ready messages per replica, for the KEDA ScaledObject of a saga consumer.' }),
    },
    { additionalProperties: false },
  ),
  [{ rule: 'self.maxReplicas >= self.minReplicas', message: 'maxReplicas is below minReplicas' }],
);

function serviceSchema(name: AppServiceName) {
  return withRules(
    Type.Object(
      {
        image: Type.Optional(
          Type.String({ minLength: 1, maxLength: 512, description: 'The whole image reference, instead of <images.repository>/<service>[:<images.tag>] (Tilt sets it in operator mode).' }),
        ),
        resources: resourcesSchema(),
        env: envSchema,
        replicas: Type.Optional(
          Type.Integer({ minimum: 0, maximum: 100, description: 'Unset: the operator leaves the count to `kubectl scale` and autoscalers. Set: the operator keeps it.' }),
        ),
        autoscaling: Type.Optional(autoscalingSchema),
      },
      { additionalProperties: false, description: `The ${name} service.` },
    ),
    [{ rule: '!(has(self.replicas) && has(self.autoscaling) && self.autoscaling.enabled)', message: 'replicas and autoscaling exclude each other: an autoscaler owns the count' }],
  );
}

function infraSchema<P extends Record<string, TSchema>>(name: string, extra: P) {
  return Type.Object(
    {
      image: Type.String({ minLength: 1, maxLength: 512 }),
      replicas: Type.Unsafe<0 | 1>({ type: 'integer', enum: [0, 1], description: '0 stops it but keeps its objects and data; it cannot run more than one.' }),
      resources: resourcesSchema(),
      ...extra,
    },
    { additionalProperties: false, description: name },
  );
}

function buildShopSpecSchema() {
  const services = Object.fromEntries(appServiceNames.map((name) => [name, serviceSchema(name)])) as {
    [N in AppServiceName]: ReturnType<typeof serviceSchema>;
  };
  return withRules(
    Type.Object(
      {
        images: Type.Object(
          {
            repository: Type.String({ minLength: 1, maxLength: 255, description: 'Images are <repository>/<service>: the names the Tiltfile builds.' }),
            tag: Type.Optional(Type.String({ pattern: '^[\\w][\\w.-]{0,127}$', description: 'No tag (the default) lets Tilt and `kind load` use the bare name.' })),
            pullPolicy: Type.Unsafe<'IfNotPresent' | 'Always' | 'Never'>({ type: 'string', enum: ['IfNotPresent', 'Always', 'Never'] }),
          },
          { additionalProperties: false },
        ),
        services: Type.Object(services, { additionalProperties: false, description: 'Per service: resources, extra settings, replicas and autoscaling.' }),
        logLevel: Type.Unsafe<'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'>({
          type: 'string',
          enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
        }),
        devSeed: Type.Boolean({ description: 'SEED_CATALOG and SEED_DEV_USERS: the demo catalog and the well-known dev accounts.' }),
        liveUpdate: Type.Boolean({
          description: "Tilt live update: an init container copies the image's sources into emptyDirs that Tilt syncs into. Off for images that are not the Dockerfile's dev target.",
        }),
        productCache: Type.Unsafe<ProductCacheMode>({
          type: 'string',
          enum: [...productCacheModes],
          description: "PRODUCT_CACHE of the product service: each replica's memory (local), one Redis the replicas share (redis: the cluster then runs one), or none (off).",
        }),
        latency: Type.Object(
          {
            // The bounds of the runtime knobs they set (faultKnobs in services/platform/src/runtime-knobs.ts; a test holds them equal).
            paymentLatencyMs: Type.Integer({ minimum: 0, maximum: 60_000, description: "the payment provider's latency (knob latency_ms), applied while the pods run" }),
            emailLatencyMs: Type.Integer({ minimum: 0, maximum: 60_000, description: "the email provider's latency (knob latency_ms), applied while the pods run" }),
            paymentFailureRate: Type.Number({ minimum: 0, maximum: 1, description: 'share of charges declined at random, 0 to 1 (knob failure_rate), applied while the pods run' }),
          },
          { additionalProperties: false, description: 'The knobs of the simulated providers.' },
        ),
        infrastructure: Type.Object(
          {
            jaeger: Type.Boolean(),
            mailpit: Type.Boolean(),
            sharedPostgres: Type.Boolean({ description: 'One Postgres instance holding every database (default: one per service).' }),
          },
          { additionalProperties: false, description: 'Which infrastructure to include. RabbitMQ and Postgres are always there.' },
        ),
        deleteVolumesWithShop: Type.Boolean({
          description: "Delete the volumes of Postgres and RabbitMQ when the Shop is deleted. Off: they are kept, and a new Shop of the same name finds the data again.",
        }),
        postgres: infraSchema('Postgres', { storageGiB: Type.Integer({ minimum: 1, maximum: 1024 }) }),
        rabbitmq: infraSchema('RabbitMQ', { storageGiB: Type.Integer({ minimum: 1, maximum: 1024 }) }),
        jaeger: infraSchema('Jaeger', { maxTraces: Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'Traces kept in memory.' }) }),
        mailpit: infraSchema('Mailpit', { maxMessages: Type.Integer({ minimum: 0, maximum: 100_000 }) }),
        redis: withRules(
          infraSchema('Redis, run only with productCache redis', {
            maxMemoryMiB: Type.Integer({ minimum: 1, maximum: 65_536, description: "Redis's maxmemory: beyond it keys are evicted, least recently used first." }),
          }),
          [
            {
              // Room above the data for connections and fragmentation, or the kernel kills Redis before it evicts.
              // int(): the API server reads these as int, CEL evaluators in JavaScript as double.
              rule: 'int(self.maxMemoryMiB) * 4 <= int(self.resources.memory.limitMiB) * 3',
              message: 'maxMemoryMiB leaves too little of the memory limit: at most three quarters of it',
            },
          ],
        ),
      },
      { additionalProperties: false },
    ),
    [
      {
        rule: "self.infrastructure.mailpit || 'SMTP_URL' in self.services.email.env",
        message: 'infrastructure.mailpit is off: set services.email.env.SMTP_URL to the SMTP server the email service should use',
      },
    ],
  );
}

/** The spec's schema without the defaults of config.ts (withDefaults adds them). */
export const shopSpecBaseSchema = buildShopSpecSchema();
export type ShopSpecSchema = typeof shopSpecBaseSchema;
/** The spec with every default filled in: what the API server stores, and what the constructs render. */
export type ShopSpec = Static<ShopSpecSchema>;

/**
 * The schema with a default for every field that `defaults` holds: its value for a leaf or a map,
 * `{}` for an object with properties, so that the API server (and Value.Default) fills a missing
 * object in and then its fields. A default the schema states itself (inside autoscaling) stays.
 */
export function withDefaults<T extends TSchema>(schema: T, defaults: unknown): T {
  const node = schema as TSchema & { type?: string; properties?: Record<string, TSchema> };
  if (defaults === undefined) return schema;
  if (node.type === 'object' && node.properties) {
    const values = defaults as Record<string, unknown>;
    const properties = Object.fromEntries(Object.entries(node.properties).map(([key, child]) => [key, withDefaults(child, values[key])]));
    return { ...node, properties, default: {} } as unknown as T;
  }
  return { ...node, default: defaults } as unknown as T;
}

/**
 * Fills in the schema's defaults as the API server does for a custom resource: a missing field
 * with a default gets it, then the fields of every object present (defaulted ones included)
 * get theirs. Returns a new value.
 */
export function applyDefaults(schema: TSchema, value: unknown): unknown {
  const node = schema as TSchema & { properties?: Record<string, TSchema> };
  if (!node.properties || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const result: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [key, child] of Object.entries(node.properties)) {
    const childDefault = (child as { default?: unknown }).default;
    if (result[key] === undefined && childDefault !== undefined) result[key] = structuredClone(childDefault);
    if (result[key] !== undefined) result[key] = applyDefaults(child, result[key]);
  }
  return result;
}

/** A JSON pointer (`/services/email/env`) as a dotted path (`services.email.env`). */
function dotted(pointer: string): string {
  return pointer.replace(/^\//, '').replaceAll('/', '.').replaceAll('~1', '/').replaceAll('~0', '~') || '(spec)';
}

/** Every schema node with CEL rules, each with where it sits, so the rules can be run offline. */
function celNodes(schema: TSchema, path: string[] = []): { path: string[]; rules: readonly CelRule[]; node: TSchema }[] {
  const node = schema as TSchema & { properties?: Record<string, TSchema>; [celRulesKey]?: CelRule[] };
  const own = node[celRulesKey] ? [{ path, rules: node[celRulesKey], node: schema }] : [];
  return [...own, ...Object.entries(node.properties ?? {}).flatMap(([key, child]) => celNodes(child, [...path, key]))];
}

/**
 * A value as the API server hands it to CEL: what the schema types as an integer is a CEL int
 * (a BigInt for cel-js, which takes every JavaScript number for a double), so that a rule's
 * arithmetic and comparisons type-check offline as they do in the cluster.
 */
function asCel(schema: TSchema, value: unknown): unknown {
  const node = schema as TSchema & { type?: string; properties?: Record<string, TSchema>; patternProperties?: Record<string, TSchema>; items?: TSchema };
  if (node.type === 'integer' && typeof value === 'number' && Number.isInteger(value)) return BigInt(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return node.items ? value.map((item) => asCel(node.items!, item)) : value;
  const entries = Object.entries(value as Record<string, unknown>).map(([key, child]) => {
    const childSchema = node.properties?.[key] ?? Object.values(node.patternProperties ?? {})[0];
    return [key, childSchema ? asCel(childSchema, child) : child];
  });
  return Object.fromEntries(entries);
}

/**
 * Every problem of a spec that already has its defaults: the schema's violations, then the
 * CEL rules' (evaluated as the API server would, where the part they read can be read).
 */
const validators = new WeakMap<ShopSpecSchema, ReturnType<typeof Compile<ShopSpecSchema>>>();

export function specProblems(schema: ShopSpecSchema, spec: unknown): string[] {
  const validator = validators.get(schema) ?? Compile(schema);
  validators.set(schema, validator);
  const problems = [...validator.Errors(spec)]
    // An unknown field is reported twice (the false schema under it, and its parent's
    // additionalProperties): once, by name, is enough.
    .filter((error) => error.keyword !== 'additionalProperties')
    .map((error) => {
      if (error.keyword === 'boolean') return `${dotted(error.instancePath)}: unknown field`;
      const allowed = (error.params as { allowedValues?: unknown[] }).allowedValues;
      return `${dotted(error.instancePath)}: ${error.message}${allowed ? ` (${allowed.join(', ')})` : ''}`;
    });
  const schemaValid = problems.length === 0;
  for (const { path, rules, node } of celNodes(schema)) {
    let self: unknown = spec;
    for (const key of path) self = (self as Record<string, unknown> | undefined)?.[key];
    if (self === undefined) continue;
    for (const { rule, message } of rules) {
      let holds: unknown;
      try {
        holds = evaluate(rule, { self: asCel(node, self) });
      } catch (error) {
        // On a spec the schema refused, the problems above already say why this part cannot be
        // read; on a valid one, a rule that does not evaluate is a bug in the rule.
        if (schemaValid) throw error;
        continue;
      }
      if (holds !== true) problems.push(path.length > 0 ? `${path.join('.')}: ${message}` : message);
    }
  }
  return problems;
}

/** A condition in the shape of metav1.Condition. */
const conditionSchema = Type.Object(
  {
    type: Type.String({ maxLength: 316 }),
    status: Type.Unsafe<'True' | 'False' | 'Unknown'>({ type: 'string', enum: ['True', 'False', 'Unknown'] }),
    observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
    lastTransitionTime: Type.String({ format: 'date-time' }),
    reason: Type.String({ maxLength: 1024, pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
    message: Type.String({ maxLength: 32768 }),
  },
  { additionalProperties: false },
);
export type Condition = Static<typeof conditionSchema>;

/** What the operator writes through the /status subresource. */
export const shopStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(Type.Integer({ minimum: 0, description: 'The metadata.generation the operator last reconciled.' })),
    conditions: Type.Optional(
      Type.Unsafe<Condition[]>({
        ...Type.Array(conditionSchema, { maxItems: 16 }),
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
        description: 'Ready, Progressing and Degraded.',
      }),
    ),
    servicesReady: Type.Optional(Type.String({ description: 'Application services with every desired replica ready, of all: "8/8".' })),
    services: Type.Optional(
      Type.Record(Type.String(), Type.Object({ readyReplicas: Type.Integer({ minimum: 0 }), desiredReplicas: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }), {
        description: 'Per application service: ready and desired replicas.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ShopStatus = Static<typeof shopStatusSchema>;

/**
 * The schema as it applies to a spec before defaulting (a Shop as written, Helm values): a
 * field that has a default is not required, at any depth.
 */
export function beforeDefaults(schema: TSchema): Record<string, unknown> {
  const node = schema as Record<string, unknown>;
  const result: Record<string, unknown> = { ...node };
  const properties = node.properties as Record<string, TSchema> | undefined;
  if (properties) {
    result.properties = Object.fromEntries(Object.entries(properties).map(([key, child]) => [key, beforeDefaults(child)]));
    const required = ((node.required as string[] | undefined) ?? []).filter((key) => (properties[key] as { default?: unknown }).default === undefined);
    if (required.length > 0) result.required = required;
    else delete result.required;
  }
  return result;
}
