/**
 * The Secrets a Shop's objects reference (cdk8s/src/secrets.ts), made by the operator when they
 * are missing, as the CloudNativePG and RabbitMQ operators make their credentials: so that one
 * `helm install` gives a running shop. A Secret that exists is never written: users may bring
 * their own (scripts/k8s-secrets.sh is one way), and Postgres and RabbitMQ read their passwords
 * only when their volumes are first initialized, so a new password for a kept volume would lock
 * the services out.
 *
 * For the same reason a generated Secret lives as long as the volumes do: it is owned by the Shop
 * (and collected with it) only when the Shop's volumes are too (`deleteVolumesWithShop`);
 * otherwise it stays after the Shop, and a Shop of the same name finds both again. That choice is
 * made when the Secret is made.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as k8s from '@kubernetes/client-node';
import type { ShopConfig } from '@scaleshop/cdk8s/src/config.ts';
import {
  brokerUrl,
  databaseUrl,
  databaseUrlKey,
  databaseUrlSecretName,
  externalSecrets,
  jwtSecret,
  postgresPasswordKey,
  postgresSecretName,
  rabbitmqSecret,
  rabbitmqUrlSecret,
} from '@scaleshop/cdk8s/src/secrets.ts';
import { databaseServiceNames, postgresInstanceOf } from '@scaleshop/cdk8s/src/topology.ts';
import { ownerReference, shopLabel, type Shop } from './desired.ts';

/** Marks a Secret the operator made (it never changes one it did not make, nor one it did). */
export const generatedAnnotation = 'scaleshop.dev/generated-by';
export const secretManager = 'scaleshop-operator';

type Data = Record<string, string>;

/** How to make each Secret, given a way to read the others (a URL is derived from its credentials). */
type Maker = (read: (name: string) => Promise<Data>) => Promise<Data>;

function password(): string {
  return randomBytes(24).toString('hex');
}

function makers(config: ShopConfig): Map<string, Maker> {
  const entries: [string, Maker][] = [
    [
      jwtSecret.name,
      async () => {
        const { privateKey, publicKey } = generateKeyPairSync('ed25519');
        return { [jwtSecret.privateKey]: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), [jwtSecret.publicKey]: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
      },
    ],
    [rabbitmqSecret.name, async () => ({ [rabbitmqSecret.username]: 'scaleshop', [rabbitmqSecret.password]: password() })],
    [
      rabbitmqUrlSecret.name,
      async (read) => {
        const credentials = await read(rabbitmqSecret.name);
        return { [rabbitmqUrlSecret.url]: brokerUrl(config.namespace, required(credentials, rabbitmqSecret.name, rabbitmqSecret.username), required(credentials, rabbitmqSecret.name, rabbitmqSecret.password)) };
      },
    ],
  ];
  for (const service of databaseServiceNames) {
    const instance = postgresSecretName(postgresInstanceOf(service, config.infrastructure.sharedPostgres));
    entries.push([instance, async () => ({ [postgresPasswordKey]: password() })]);
    entries.push([
      databaseUrlSecretName(service),
      async (read) => ({ [databaseUrlKey]: databaseUrl(config, service, required(await read(instance), instance, postgresPasswordKey)) }),
    ]);
  }
  return new Map(entries);
}

function required(data: Data, secret: string, key: string): string {
  const value = data[key];
  if (value === undefined) throw new Error(`Secret ${secret} has no key ${key}`);
  return value;
}

export class SecretMaker {
  private readonly core: k8s.CoreV1Api;
  /** Secrets known to exist: not asked about again until the operator restarts. */
  private readonly known = new Set<string>();

  constructor(kubeConfig: k8s.KubeConfig) {
    this.core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  }

  /**
   * Makes every missing Secret of the Shop's configuration, and answers the names it made. Each
   * is read once (GET by name, which the Role allows only for these names), then remembered.
   */
  async ensure(shop: Shop, config: ShopConfig): Promise<string[]> {
    const namespace = config.namespace;
    const make = makers(config);
    const values = new Map<string, Data>();
    const read = async (name: string): Promise<Data> => {
      const cached = values.get(name);
      if (cached) return cached;
      const data = await this.read(namespace, name);
      if (!data) throw new Error(`Secret ${name} is missing`);
      values.set(name, data);
      return data;
    };
    // The credentials before the URLs made of them.
    const order = externalSecrets(config)
      .map((secret) => secret.name)
      .sort((a, b) => Number(isDerived(a)) - Number(isDerived(b)));
    const made: string[] = [];
    for (const name of order) {
      const key = `${namespace}/${name}`;
      if (this.known.has(key)) continue;
      const existing = await this.read(namespace, name);
      if (existing) {
        values.set(name, existing);
        this.known.add(key);
        continue;
      }
      const maker = make.get(name);
      if (!maker) throw new Error(`no way to make Secret ${name}`);
      const data = await maker(read);
      // False when someone made it in between: theirs stands, and is read when needed.
      if (await this.create(shop, config, name, data)) {
        made.push(name);
        values.set(name, data);
      }
      this.known.add(key);
    }
    return made;
  }

  private async read(namespace: string, name: string): Promise<Data | undefined> {
    try {
      const secret = await this.core.readNamespacedSecret({ name, namespace });
      return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
    } catch (error) {
      if ((error as { code?: number }).code === 404) return undefined;
      throw error;
    }
  }

  /** False when it exists already (409): never overwritten. */
  private async create(shop: Shop, config: ShopConfig, name: string, data: Data): Promise<boolean> {
    try {
      await this.core.createNamespacedSecret({
        namespace: config.namespace,
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'Opaque',
          metadata: {
            name,
            namespace: config.namespace,
            labels: { 'app.kubernetes.io/part-of': 'scaleshop', 'app.kubernetes.io/managed-by': secretManager, [shopLabel]: shop.metadata.name },
            annotations: { [generatedAnnotation]: secretManager },
            // Collected with the Shop only when its volumes are: see the top of this file.
            ...(config.deleteVolumesWithShop ? { ownerReferences: [ownerReference(shop)] } : {}),
          },
          data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, Buffer.from(value, 'utf8').toString('base64')])),
        },
      });
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 409) return false;
      throw error;
    }
  }
}

function isDerived(name: string): boolean {
  return name === rabbitmqUrlSecret.name || databaseServiceNames.some((service) => databaseUrlSecretName(service) === name);
}
