/**
 * The operator: keeps every Shop of its namespace equal to the cluster, as the platform's other
 * services run: /health/live, /health/ready (ready once its informers have listed), /metrics,
 * and a graceful shutdown that lets the reconcile in progress finish.
 */
import * as k8s from '@kubernetes/client-node';
import { createHttpApp, createLogger, loadConfig, runService, startMain } from '@scaleshop/platform';
import { operatorConfig } from './config.ts';
import { Operator } from './controller.ts';
import { ExperimentOperator } from './experiment/controller.ts';
import { reconcileMetrics } from './metrics.ts';

startMain('operator', async () => {
  const config = loadConfig(operatorConfig);
  const logger = createLogger({ service: 'operator', level: config.LOG_LEVEL });
  const kubeConfig = new k8s.KubeConfig();
  if (config.KUBECONFIG) kubeConfig.loadFromFile(config.KUBECONFIG);
  else kubeConfig.loadFromCluster();
  const operator = new Operator({ kubeConfig, namespace: config.WATCH_NAMESPACE, logger, metrics: reconcileMetrics });
  const experiments = new ExperimentOperator({ kubeConfig, namespace: config.WATCH_NAMESPACE, logger });
  const app = await createHttpApp({
    service: 'operator',
    logger,
    readiness: { informers: async () => operator.ready },
    closeOnShutdown: [{ close: () => operator.stop() }, { close: () => experiments.stop() }],
  });
  await runService({ app, host: config.HOST, port: config.PORT, logger });
  await operator.start();
  await experiments.start();
});
