/**
 * The ScalingExperiment custom resource (scaleshop.dev/v1alpha1): run k6 against a Shop at each
 * replica count of one service, and fit the Universal Scalability Law to what it measured. Its
 * spec and status are written once here in TypeBox; the CRD (structural, via crd.ts) and the
 * operator's types come from them.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { scenarioNames } from '../../loadtests/lib/runtime.ts';
import { customResourceDefinition, structural } from './crd.ts';
import { beforeDefaults, celRulesKey, shopGroup, shopStatusSchema } from './shop-spec.ts';
import { appServiceNames } from './topology.ts';

export const experimentKind = 'ScalingExperiment';
export const experimentPlural = 'scalingexperiments';
export const experimentCrdName = `${experimentPlural}.${shopGroup}`;
/** The finalizer that lets the operator stop the Job and restore the replicas before the resource goes. */
export const experimentFinalizer = `${shopGroup}/restore-replicas`;
/** The label on every object an experiment creates: its name. */
export const experimentLabel = `${shopGroup}/experiment`;

const stringEnum = <T extends string>(values: readonly T[], description: string) => Type.Unsafe<T>({ type: 'string', enum: [...values], description });

export const experimentSpecSchema = Type.Object(
  {
    target: Type.Object(
      {
        shop: Type.String({ minLength: 1, maxLength: 63, description: 'The Shop, in the same namespace.' }),
        service: stringEnum(appServiceNames, 'The service of that Shop to scale.'),
      },
      { additionalProperties: false },
    ),
    replicas: {
      ...Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), { minItems: 1, maxItems: 12, description: 'The replica counts to measure, in this order, e.g. [1, 2, 4, 8].' }),
      [celRulesKey]: [{ rule: 'self.all(n, self.exists_one(m, m == n))', message: 'each replica count once' }],
    },
    scenario: stringEnum(scenarioNames, 'The k6 journey of loadtests/ to run.'),
    load: {
      ...Type.Object(
        {
          rates: Type.Optional(Type.Array(Type.Number({ minimum: 0.1, maximum: 100_000 }), { minItems: 1, maxItems: 16, description: 'Fixed arrival rates (iterations per second), run in ascending order at each N until one breaks the SLO.' })),
          search: Type.Optional(
            Type.Object(
              {
                startRate: Type.Number({ minimum: 0.1, maximum: 100_000, description: 'The first rate at the first N; a later N starts from what the one before held, scaled by the replicas, halved.' }),
                factor: Type.Number({ minimum: 1.1, maximum: 4, default: 1.5, description: 'Step up by this while the SLO holds.' }),
                maxRuns: Type.Integer({ minimum: 2, maximum: 20, default: 8, description: 'Runs per repeat at most.' }),
              },
              { additionalProperties: false, description: 'A capacity search: step the rate up until the SLO breaks (halve it while it breaks at the start).' },
            ),
          ),
        },
        { additionalProperties: false },
      ),
      [celRulesKey]: [{ rule: 'has(self.rates) != has(self.search)', message: 'either rates or search, not both' }],
    },
    slo: Type.Object(
      {
        p99Ms: Type.Number({ minimum: 1, maximum: 600_000, default: 1000, description: 'p99 in ms: of the saga for buyer and hot-item, of the slowest request kind otherwise.' }),
        maxErrorRate: Type.Number({ minimum: 0, maximum: 1, default: 0.01 }),
      },
      { additionalProperties: false, default: {} },
    ),
    warmupSeconds: Type.Integer({ minimum: 0, maximum: 600, default: 10, description: 'k6 at the run’s rate before the measured run, in the same pod; not counted.' }),
    durationSeconds: Type.Integer({ minimum: 5, maximum: 3600, default: 30 }),
    repeats: Type.Integer({ minimum: 1, maximum: 5, default: 1 }),
    settleSeconds: Type.Integer({ minimum: 0, maximum: 600, default: 10, description: 'Wait after the rollout (N replicas ready; for payment and email, readiness includes their consumers attached), before the load.' }),
    traceSampling: Type.Number({ minimum: 0, maximum: 1, default: 0.1, description: 'Share of k6 requests sent with a sampled traceparent (traces in Jaeger).' }),
    scriptsConfigMap: Type.String({ minLength: 1, maxLength: 253, default: 'loadtests', description: 'The ConfigMap of the k6 scripts (the chart ships it).' }),
  },
  { additionalProperties: false },
);
export type ExperimentSpec = Static<typeof experimentSpecSchema>;

export const experimentPhases = ['Pending', 'Waiting', 'Running', 'Succeeded', 'Failed'] as const;
export type ExperimentPhase = (typeof experimentPhases)[number];

const number = (description?: string) => Type.Number(description ? { description } : {});

/** One k6 run, as read from its summary. */
export const runSchema = Type.Object(
  {
    replicas: Type.Integer({ minimum: 1 }),
    repeat: Type.Integer({ minimum: 0 }),
    rate: number('Offered iterations per second.'),
    throughput: number('Completed work per second, in the unit.'),
    p50Ms: number(),
    p99Ms: number(),
    errorRate: number(),
    generatorSaturated: Type.Boolean({ description: 'k6 dropped iterations: the generator, not the shop, was the limit.' }),
    thresholdsOk: Type.Boolean({ description: 'The script’s own thresholds held (broken thresholds are data, not a failure).' }),
    holds: Type.Boolean({ description: 'The SLO held at this rate.' }),
    job: Type.String(),
  },
  { additionalProperties: false },
);
export type ExperimentRun = Static<typeof runSchema>;

const pointSchema = Type.Object(
  { replicas: Type.Integer({ minimum: 1 }), throughput: number(), efficiency: Type.Optional(number('E(N) = X(N)/(N·X(1)); absent without N=1.')), p50Ms: number(), p99Ms: number(), errorRate: number() },
  { additionalProperties: false },
);

const conditionsSchema = shopStatusSchema.properties.conditions;

export const experimentStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(Type.Integer({ minimum: 0 })),
    phase: Type.Optional(stringEnum(experimentPhases, 'Pending, Waiting (another experiment holds the service), Running, Succeeded or Failed.')),
    conditions: conditionsSchema,
    originalReplicas: Type.Optional(Type.Integer({ minimum: 0, description: 'The replicas the service had before; restored at the end.' })),
    currentStep: Type.Optional(
      Type.Object(
        {
          replicas: Type.Integer({ minimum: 1 }),
          repeat: Type.Integer({ minimum: 0 }),
          rate: number(),
          attempt: Type.Integer({ minimum: 0, maximum: 1 }),
          stage: stringEnum(['Scaling', 'Settling', 'Load'], 'Scaling (waiting for the rollout), Settling, or Load (the k6 Job runs).'),
          job: Type.Optional(Type.String()),
          readySince: Type.Optional(Type.String({ format: 'date-time' })),
          firstFailure: Type.Optional(Type.String({ description: 'Why the first attempt failed, when it did.' })),
        },
        { additionalProperties: false },
      ),
    ),
    stepsDone: Type.Optional(Type.String({ description: 'Replica counts measured, of all: "2/4".' })),
    unit: Type.Optional(Type.String()),
    runs: Type.Optional(Type.Array(runSchema, { maxItems: 1000 })),
    points: Type.Optional(Type.Array(pointSchema, { maxItems: 12 })),
    usl: Type.Optional(
      Type.Object({ lambda: number(), sigma: number(), kappa: number(), r2: number(), peakReplicas: Type.Optional(number()) }, { additionalProperties: false }),
    ),
    efficiencyAtLargest: Type.Optional(Type.String({ description: 'E(N) at the largest N measured, for the printer column.' })),
    resultsConfigMap: Type.Optional(Type.String({ description: 'Where results.json and report.md are, once done.' })),
    startedAt: Type.Optional(Type.String({ format: 'date-time' })),
    finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
export type ExperimentStatus = Static<typeof experimentStatusSchema>;

export function experimentCrd(): Record<string, unknown> {
  return customResourceDefinition({
    kind: experimentKind,
    plural: experimentPlural,
    shortNames: ['sx'],
    printerColumns: [
      { name: 'Service', type: 'string', jsonPath: '.spec.target.service' },
      { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
      { name: 'Steps', type: 'string', jsonPath: '.status.stepsDone', description: 'Replica counts measured, of all' },
      { name: 'Sigma', type: 'number', jsonPath: '.status.usl.sigma', description: 'USL σ: the share that serialises' },
      { name: 'Kappa', type: 'number', jsonPath: '.status.usl.kappa', description: 'USL κ: crosstalk' },
      { name: 'E(max N)', type: 'string', jsonPath: '.status.efficiencyAtLargest', description: 'Efficiency at the largest N' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    description: 'A scaling experiment: k6 at each replica count of one service of a Shop, and the USL fitted to it.',
    spec: { ...structural(beforeDefaults(experimentSpecSchema) as TSchema), [celRulesKey]: [{ rule: 'self == oldSelf', message: 'an experiment cannot change once created: make a new one' }] },
    status: structural(experimentStatusSchema),
    required: ['spec'],
  });
}
