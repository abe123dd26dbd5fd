/**
 * Test helpers: the committed manifests and rendered variants, parsed, with typed access to
 * the parts the checks look at (pod templates, containers, services, policies).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { defaultConfig, withSharedPostgres, type ShopConfig } from '../src/config.ts';
import { manifestFile, renderManifests } from '../src/render.ts';

export const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export type Labels = Record<string, string>;

export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface ContainerPort {
  containerPort: number;
  name?: string;
  protocol?: string;
  hostPort?: number;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}

export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type: string };
  procMount?: string;
  appArmorProfile?: { type: string };
  seLinuxOptions?: { type?: string };
}

export interface Probe {
  httpGet?: { path: string; port: number | string };
  tcpSocket?: { port: number | string };
  exec?: { command: string[] };
  grpc?: { port: number };
}

export interface Container {
  name: string;
  image: string;
  imagePullPolicy?: string;
  command?: string[];
  args?: string[];
  ports?: ContainerPort[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; subPath?: string; readOnly?: boolean }[];
}

export interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string; medium?: string };
  configMap?: { name: string; items?: { key: string; path: string }[] };
  secret?: { secretName: string; items?: { key: string; path: string }[] };
  persistentVolumeClaim?: { claimName: string };
  hostPath?: unknown;
  [type: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  securityContext?: SecurityContext & { fsGroup?: number; sysctls?: { name: string }[] };
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  enableServiceLinks?: boolean;
  automountServiceAccountToken?: boolean;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Labels; annotations?: Labels };
  spec?: unknown;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export interface Workload extends K8sObject {
  kind: 'Deployment' | 'StatefulSet';
  spec: {
    replicas?: number;
    selector: LabelSelector;
    serviceName?: string;
    template: { metadata: { labels?: Labels; annotations?: Labels }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string }; spec: { resources: { requests: { storage: string } } } }[];
  };
}

export interface ServiceObject extends K8sObject {
  kind: 'Service';
  spec: { selector?: Labels; clusterIP?: string; ports: { name?: string; port: number; targetPort?: number | string; protocol?: string }[] };
}

export interface NetworkPolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}
export interface NetworkPolicyPort {
  port?: number | string;
  endPort?: number;
  protocol?: string;
}
export interface NetworkPolicyObject extends K8sObject {
  kind: 'NetworkPolicy';
  spec: {
    podSelector: LabelSelector;
    policyTypes?: ('Ingress' | 'Egress')[];
    ingress?: { from?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
    egress?: { to?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[];
  };
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`invalid YAML: ${document.errors.map((error) => error.message).join('; ')}`);
      return document.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

export function readCommittedManifests(): string {
  return readFileSync(join(repositoryRoot, manifestFile), 'utf8');
}

export interface Variant {
  readonly name: string;
  readonly config: ShopConfig;
  readonly objects: K8sObject[];
}

/** A small configuration: no Jaeger, no Mailpit (mail goes to an outside server), no live update. */
export const minimalConfig: ShopConfig = {
  ...defaultConfig,
  liveUpdate: false,
  infrastructure: { jaeger: false, mailpit: false, sharedPostgres: true },
  services: { ...defaultConfig.services, email: { ...defaultConfig.services.email, env: { SMTP_URL: 'smtp://smtp.example.test:587' } } },
};

/** The catalog cached in a Redis the product replicas share. */
export const redisCacheConfig: ShopConfig = { ...defaultConfig, productCache: 'redis' };

/** The committed default, and rendered variants that exercise the configuration's switches. */
export function variants(): Variant[] {
  return [
    { name: 'default (k8s/)', config: defaultConfig, objects: parseManifests(readCommittedManifests()) },
    { name: 'sharedPostgres', config: withSharedPostgres(defaultConfig), objects: parseManifests(renderManifests(withSharedPostgres(defaultConfig))) },
    { name: 'minimal', config: minimalConfig, objects: parseManifests(renderManifests(minimalConfig)) },
    { name: 'redisCache', config: redisCacheConfig, objects: parseManifests(renderManifests(redisCacheConfig)) },
  ];
}

export function workloads(objects: readonly K8sObject[]): Workload[] {
  return objects.filter((object): object is Workload => object.kind === 'Deployment' || object.kind === 'StatefulSet');
}

export function services(objects: readonly K8sObject[]): ServiceObject[] {
  return objects.filter((object): object is ServiceObject => object.kind === 'Service');
}

export function networkPolicies(objects: readonly K8sObject[]): NetworkPolicyObject[] {
  return objects.filter((object): object is NetworkPolicyObject => object.kind === 'NetworkPolicy');
}

export function allContainers(spec: PodSpec): { container: Container; init: boolean }[] {
  return [...(spec.initContainers ?? []).map((container) => ({ container, init: true })), ...spec.containers.map((container) => ({ container, init: false }))];
}

export function selectorMatches(selector: LabelSelector, labels: Labels): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const expression of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(labels, expression.key);
    const value = labels[expression.key];
    switch (expression.operator) {
      case 'In':
        if (!present || !expression.values?.includes(value ?? '')) return false;
        break;
      case 'NotIn':
        if (present && expression.values?.includes(value ?? '')) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
      default:
        throw new Error(`unknown selector operator ${expression.operator}`);
    }
  }
  return true;
}

export function objectId(object: K8sObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

/** CPU in millicores. */
export function parseCpu(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(quantity);
  if (!match) throw new Error(`unsupported CPU quantity ${quantity}`);
  return match[2] === 'm' ? Number(match[1]) : Number(match[1]) * 1000;
}

/** Memory in MiB. */
export function parseMemory(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity);
  if (!match) throw new Error(`unsupported memory quantity ${quantity}`);
  const factor: Record<string, number> = { '': 1 / 2 ** 20, Ki: 1 / 1024, Mi: 1, Gi: 1024, k: 1000 / 2 ** 20, M: 10 ** 6 / 2 ** 20, G: 10 ** 9 / 2 ** 20 };
  return Number(match[1]) * (factor[match[2] ?? ''] ?? Number.NaN);
}
