/**
 * Mailpit, the mail catcher: SMTP on 1025 for the email service, the web UI on 8025.
 * Keeps its messages in a database file under /tmp (an emptyDir): dev mail is disposable.
 */
import * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import type { InfraReplicas, PullPolicy, Resources } from './config.ts';
import {
  containerResources,
  emptyDir,
  hardenPodTemplate,
  labelsFor,
  probeOptions,
  pullPolicy,
  restrictedContainer,
  restrictedPod,
  selectorFor,
} from './workload-defaults.ts';
import { infraPorts } from './topology.ts';

/** The image does not name a user; any numeric one works, given a writable /tmp. */
export const mailpitUid = 10001;
const ports = { smtp: infraPorts.smtp, ui: infraPorts.mailpitUi } as const;

export interface MailpitProps {
  readonly name: string;
  readonly image: string;
  readonly pullPolicy: PullPolicy;
  readonly replicas: InfraReplicas;
  /** Older messages are deleted beyond this many (0: keep all). */
  readonly maxMessages: number;
  readonly resources: Resources;
}

export class Mailpit extends Construct {
  readonly deployment: kplus.Deployment;
  readonly service: kplus.Service;

  constructor(scope: Construct, id: string, props: MailpitProps) {
    super(scope, id);
    const labels = labelsFor(props.name, 'mail');

    this.deployment = new kplus.Deployment(this, 'deployment', {
      metadata: { name: props.name, labels },
      // Infrastructure: the replica count is configuration (0 turns it off); one, or mail is split.
      replicas: props.replicas,
      strategy: kplus.DeploymentStrategy.recreate(),
      select: false,
      podMetadata: { labels },
      securityContext: restrictedPod(mailpitUid),
      automountServiceAccountToken: false,
    });
    this.deployment.select(kplus.LabelSelector.of({ labels: selectorFor(props.name) }));
    hardenPodTemplate(this.deployment);

    const container = this.deployment.addContainer({
      name: 'mailpit',
      image: props.image,
      imagePullPolicy: pullPolicy(props.pullPolicy),
      ports: [
        { number: ports.smtp, name: 'smtp' },
        { number: ports.ui, name: 'ui' },
      ],
      envVariables: {
        MP_MAX_MESSAGES: kplus.EnvValue.fromValue(String(props.maxMessages)),
        MP_SMTP_BIND_ADDR: kplus.EnvValue.fromValue(`0.0.0.0:${ports.smtp}`),
        MP_UI_BIND_ADDR: kplus.EnvValue.fromValue(`0.0.0.0:${ports.ui}`),
      },
      resources: containerResources(props.resources),
      securityContext: restrictedContainer(mailpitUid),
      startup: kplus.Probe.fromHttpGet('/livez', { port: ports.ui, ...probeOptions({ periodSeconds: 2, timeoutSeconds: 2, failureThreshold: 30 }) }),
      readiness: kplus.Probe.fromHttpGet('/readyz', { port: ports.ui, ...probeOptions({ periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 }) }),
      liveness: kplus.Probe.fromHttpGet('/livez', { port: ports.ui, ...probeOptions({ periodSeconds: 20, timeoutSeconds: 3, failureThreshold: 3 }) }),
    });
    container.mount('/tmp', emptyDir(this, 'tmp', 128));

    this.service = new kplus.Service(this, 'service', {
      metadata: { name: props.name, labels },
      type: kplus.ServiceType.CLUSTER_IP,
      ports: [
        { name: 'smtp', port: ports.smtp, targetPort: ports.smtp },
        { name: 'ui', port: ports.ui, targetPort: ports.ui },
      ],
    });
    for (const [key, value] of Object.entries(selectorFor(props.name))) this.service.selectLabel(key, value);
  }
}
