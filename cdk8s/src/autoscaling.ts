/**
 * Autoscaling of one application Deployment, when its spec asks for it: a HorizontalPodAutoscaler
 * on CPU for an HTTP service, a KEDA ScaledObject on the length of its queue for a saga consumer
 * (its work arrives as messages; CPU says little about a consumer that waits on a provider).
 * Either way the Deployment carries no replicas (the schema's rule), so the autoscaler owns them.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { queues } from '@scaleshop/platform/messaging/contracts';
import type { AppServiceSettings } from './config.ts';
import { rabbitmqUrlSecret } from './secrets.ts';
import { serviceOf, type AppServiceName } from './topology.ts';
import { labelsFor } from './workload-defaults.ts';

/** The queue a saga service consumes: `<service>.<what>` in the saga's contract. */
export function consumedQueue(service: AppServiceName): string | undefined {
  return Object.keys(queues).find((queue) => queue.startsWith(`${service}.`));
}

/** How a service scales when its autoscaling is on. */
export function autoscalerKind(service: AppServiceName): 'keda' | 'hpa' {
  return serviceOf(service).saga && consumedQueue(service) ? 'keda' : 'hpa';
}

/** The TriggerAuthentication the ScaledObjects read the broker's URL through. */
export const kedaAuthenticationName = 'rabbitmq-keda';

export interface AutoscalingProps {
  readonly service: AppServiceName;
  readonly autoscaling: NonNullable<AppServiceSettings['autoscaling']>;
  /** KEDA's CRDs are installed: without them a consumer gets no autoscaler (the operator says so). */
  readonly keda: boolean;
}

export class Autoscaling extends Construct {
  constructor(scope: Construct, id: string, props: AutoscalingProps) {
    super(scope, id);
    const { service, autoscaling } = props;
    const labels = labelsFor(service, 'app');
    const target = { apiVersion: 'apps/v1', kind: 'Deployment', name: service };
    if (autoscalerKind(service) === 'hpa') {
      new ApiObject(this, 'hpa', {
        apiVersion: 'autoscaling/v2',
        kind: 'HorizontalPodAutoscaler',
        metadata: { name: service, labels },
        spec: {
          scaleTargetRef: target,
          minReplicas: autoscaling.minReplicas,
          maxReplicas: autoscaling.maxReplicas,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: autoscaling.targetCPUUtilization } } }],
        },
      });
      return;
    }
    if (!props.keda) return;
    new ApiObject(this, 'scaledobject', {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: service, labels },
      spec: {
        scaleTargetRef: { name: service },
        minReplicaCount: autoscaling.minReplicas,
        maxReplicaCount: autoscaling.maxReplicas,
        triggers: [
          {
            type: 'rabbitmq',
            // Ready messages per replica; `protocol: amqp` reads them with a passive queue declare.
            metadata: { protocol: 'amqp', mode: 'QueueLength', value: String(autoscaling.queueLength), queueName: consumedQueue(service) },
            authenticationRef: { name: kedaAuthenticationName },
          },
        ],
      },
    });
  }
}

/** The broker's URL for KEDA's rabbitmq scaler, from the Secret the saga services use. */
export class KedaAuthentication extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    new ApiObject(this, 'trigger-authentication', {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'TriggerAuthentication',
      metadata: { name: kedaAuthenticationName, labels: labelsFor(kedaAuthenticationName, 'broker') },
      spec: { secretTargetRef: [{ parameter: 'host', name: rabbitmqUrlSecret.name, key: rabbitmqUrlSecret.url }] },
    });
  }
}
