/**
 * The whole shop in one chart: the namespace, the databases, the broker, the observability
 * and mail infrastructure the configuration asks for, the seven services, the network policies.
 */
import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { Autoscaling, autoscalerKind, KedaAuthentication } from './autoscaling.ts';
import { assertValidConfig, type Resources, type ShopConfig } from './config.ts';
import { networkFlows, workloadNames } from './flows.ts';
import { Jaeger } from './jaeger.ts';
import { Mailpit } from './mailpit.ts';
import { ShopNamespace } from './namespace.ts';
import { NetworkPolicies } from './network-policies.ts';
import { NodeService } from './node-service.ts';
import { Postgres } from './postgres.ts';
import { RabbitMq } from './rabbitmq.ts';
import { Redis } from './redis.ts';
import { brokerServiceName, postgresPasswordKey, postgresSecretName, rabbitmqSecret } from './secrets.ts';
import { knobsFileName, knobsMountPath, serviceKnobs, serviceSecretEnv, serviceSettings } from './service-settings.ts';
import { appServiceNames, databaseName, databaseServiceNames, postgresInstanceOf, serviceOf, type AppServiceName } from './topology.ts';

/** The image of a service: what the Tiltfile's docker_build() names. */
export function imageOf(config: ShopConfig, service: AppServiceName): string {
  const image = config.services[service].image;
  if (image) return image;
  const repository = `${config.images.repository}/${service}`;
  return config.images.tag ? `${repository}:${config.images.tag}` : repository;
}

/**
 * Where the Dockerfile's dev target keeps what Tilt's live update writes: the sources it syncs,
 * and for the storefront its web sources and the build the Tiltfile's run() step makes of them.
 */
export function liveUpdatePaths(service: AppServiceName): string[] {
  const paths = [`/app/services/${service}/src`, '/app/services/platform/src'];
  return service === 'storefront' ? [...paths, '/app/services/storefront/web', '/app/services/storefront/dist'] : paths;
}

/**
 * Memory a live update's own step takes in the container, on top of the service: the storefront's
 * Vite build peaked at 290 MiB RSS (measured with /usr/bin/time -v, Rolldown's native memory for
 * the most part, so a smaller heap does not shrink it). Added to the limit only: requests stay.
 */
const liveUpdateBuildMiB: Partial<Record<AppServiceName, number>> = { storefront: 320 };

function withLiveUpdateHeadroom(service: AppServiceName, resources: Resources): Resources {
  const extra = liveUpdateBuildMiB[service] ?? 0;
  return { ...resources, memory: { ...resources.memory, limitMiB: resources.memory.limitMiB + extra } };
}

/** Where Tilt syncs edits before the Tiltfile's run() step copies them onto liveUpdatePaths (the Tiltfile's LIVE_UPDATE_STAGING). */
export const liveUpdateStaging = '/live-update';

export interface RenderOptions {
  /**
   * KEDA's CRDs are installed, so saga consumers that autoscale get a ScaledObject. The operator
   * asks the cluster; offline rendering assumes they are (`npm run render -- --no-keda` does not).
   */
  readonly keda: boolean;
}

export class ShopChart extends Chart {
  constructor(scope: Construct, id: string, config: ShopConfig, options: RenderOptions = { keda: true }) {
    assertValidConfig(config);
    super(scope, id, { namespace: config.namespace, disableResourceNameHashes: true });

    new ShopNamespace(this, 'namespace', { name: config.namespace });

    const instances = new Map<string, string[]>();
    for (const service of databaseServiceNames) {
      const instance = postgresInstanceOf(service, config.infrastructure.sharedPostgres);
      instances.set(instance, [...(instances.get(instance) ?? []), databaseName(service)]);
    }
    for (const [instance, databases] of instances) {
      new Postgres(this, instance, {
        name: instance,
        image: config.postgres.image,
        pullPolicy: config.images.pullPolicy,
        replicas: config.postgres.replicas,
        storageGiB: config.postgres.storageGiB,
        deleteVolumes: config.deleteVolumesWithShop,
        resources: config.postgres.resources,
        databases,
        passwordSecret: { name: postgresSecretName(instance), key: postgresPasswordKey },
      });
    }

    new RabbitMq(this, 'rabbitmq', {
      name: brokerServiceName,
      image: config.rabbitmq.image,
      pullPolicy: config.images.pullPolicy,
      replicas: config.rabbitmq.replicas,
      storageGiB: config.rabbitmq.storageGiB,
      deleteVolumes: config.deleteVolumesWithShop,
      resources: config.rabbitmq.resources,
      credentialsSecret: { name: rabbitmqSecret.name, usernameKey: rabbitmqSecret.username, passwordKey: rabbitmqSecret.password },
    });

    if (config.infrastructure.jaeger) {
      new Jaeger(this, 'jaeger', {
        name: 'jaeger',
        image: config.jaeger.image,
        pullPolicy: config.images.pullPolicy,
        replicas: config.jaeger.replicas,
        maxTraces: config.jaeger.maxTraces,
        resources: config.jaeger.resources,
      });
    }
    if (config.infrastructure.mailpit) {
      new Mailpit(this, 'mailpit', {
        name: 'mailpit',
        image: config.mailpit.image,
        pullPolicy: config.images.pullPolicy,
        replicas: config.mailpit.replicas,
        maxMessages: config.mailpit.maxMessages,
        resources: config.mailpit.resources,
      });
    }

    if (config.productCache === 'redis') {
      new Redis(this, 'redis', {
        name: 'redis',
        image: config.redis.image,
        pullPolicy: config.images.pullPolicy,
        replicas: config.redis.replicas,
        maxMemoryMiB: config.redis.maxMemoryMiB,
        resources: config.redis.resources,
      });
    }

    for (const service of appServiceNames) {
      const { port, metricsPort } = serviceOf(service);
      const knobs = serviceKnobs(config, service);
      new NodeService(this, service, {
        name: service,
        image: imageOf(config, service),
        pullPolicy: config.images.pullPolicy,
        port,
        ...(metricsPort === undefined ? {} : { metricsPort }),
        resources: config.liveUpdate ? withLiveUpdateHeadroom(service, config.services[service].resources) : config.services[service].resources,
        ...(config.services[service].replicas === undefined ? {} : { replicas: config.services[service].replicas }),
        settings: serviceSettings(config, service),
        ...(knobs ? { knobs: { mountPath: knobsMountPath, fileName: knobsFileName, values: knobs } } : {}),
        secretEnv: serviceSecretEnv(service),
        liveUpdatePaths: config.liveUpdate ? liveUpdatePaths(service) : [],
        liveUpdateStaging,
      });
    }

    const autoscaled = appServiceNames.filter((service) => config.services[service].autoscaling?.enabled);
    for (const service of autoscaled) {
      new Autoscaling(this, `${service}-autoscaling`, { service, autoscaling: config.services[service].autoscaling!, keda: options.keda });
    }
    const kedaScalers = options.keda && autoscaled.some((service) => autoscalerKind(service) === 'keda');
    if (kedaScalers) new KedaAuthentication(this, 'keda-authentication');

    new NetworkPolicies(this, 'network-policies', { namespace: config.namespace, workloads: workloadNames(config), flows: networkFlows(config, { kedaScalers }) });
  }
}
