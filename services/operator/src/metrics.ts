/** The operator's own series, in the registry every service serves at /metrics. */
import client from 'prom-client';
import { metricsRegistry } from '@scaleshop/platform';
import type { ReconcileMetrics } from './controller.ts';

const reconciles = new client.Counter({
  name: 'operator_reconciles_total',
  help: 'Reconciles of a Shop, by outcome (success, error)',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
});
const duration = new client.Histogram({
  name: 'operator_reconcile_duration_seconds',
  help: 'Duration of a reconcile of a Shop, rendering included',
  labelNames: ['outcome'] as const,
  buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [metricsRegistry],
});

export const reconcileMetrics: ReconcileMetrics = {
  reconciled(outcome, seconds) {
    reconciles.labels(outcome).inc();
    duration.labels(outcome).observe(seconds);
  },
};
