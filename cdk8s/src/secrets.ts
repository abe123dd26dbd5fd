/**
 * The Secrets the manifests reference but never contain. They are created OUTSIDE the
 * committed YAML, in the namespace: by the operator for a Shop (services/operator/src/secrets.ts,
 * each one only when it is missing), or by scripts/k8s-secrets.sh, which the Tiltfile runs;
 * the manifests only name them in secretKeyRef.
 *
 * This list is the contract with both: the tests fail if a manifest references a Secret or key
 * that is not here. The URL formats are here too (databaseUrl, brokerUrl); the script, in bash,
 * writes the same ones.
 */
import type { ShopConfig } from './config.ts';
import { databaseName, databaseServiceNames, infraPorts, postgresInstanceOf, type AppServiceName, type DatabaseServiceName } from './topology.ts';

export interface ExternalSecret {
  readonly name: string;
  /** Every key the manifests read from it. */
  readonly keys: readonly string[];
  /** What each key holds and how to make it. */
  readonly description: string;
}

/** Ed25519 key pair of the access tokens: the user service signs, the gateway verifies. */
export const jwtSecret = { name: 'scaleshop-jwt', privateKey: 'private.pem', publicKey: 'public.pem' } as const;
/** The RabbitMQ broker's own credentials. */
export const rabbitmqSecret = { name: 'rabbitmq', username: 'username', password: 'password' } as const;
/** The AMQP URL the saga services connect with. */
export const rabbitmqUrlSecret = { name: 'rabbitmq-url', url: 'url' } as const;

/** The superuser password of a Postgres instance (`postgres-<service>`, or `postgres` when shared). */
export function postgresSecretName(instance: string): string {
  return instance;
}
export const postgresPasswordKey = 'password';

/** The full DATABASE_URL of a service (one that owns a database). */
export function databaseUrlSecretName(service: AppServiceName): string {
  return `${service}-database`;
}
export const databaseUrlKey = 'url';

/** A service's DATABASE_URL: the superuser of its Postgres instance, its own database. */
export function databaseUrl(config: ShopConfig, service: DatabaseServiceName, password: string): string {
  const instance = postgresInstanceOf(service, config.infrastructure.sharedPostgres);
  return `postgres://postgres:${encodeURIComponent(password)}@${instance}:${infraPorts.postgres}/${databaseName(service)}`;
}

/** The broker's Service. */
export const brokerServiceName = 'rabbitmq';

/**
 * The broker's fully qualified name. The saga services would resolve the short one too, but the
 * same URL is KEDA's (its TriggerAuthentication reads it), and KEDA's operator runs in its own
 * namespace, where the short name means nothing.
 */
export function brokerHost(namespace: string): string {
  return `${brokerServiceName}.${namespace}.svc.cluster.local`;
}

/** The AMQP URL of Secret rabbitmq-url. */
export function brokerUrl(namespace: string, username: string, password: string): string {
  return `amqp://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${brokerHost(namespace)}:${infraPorts.amqp}`;
}

/** What the DATABASE_URL of a service must look like for this configuration. */
export function databaseUrlFormat(config: ShopConfig, service: DatabaseServiceName): string {
  const instance = postgresInstanceOf(service, config.infrastructure.sharedPostgres);
  return `postgres://postgres:<password of Secret ${postgresSecretName(instance)}>@${instance}:${infraPorts.postgres}/${databaseName(service)}`;
}

/** Every Secret the manifests of this configuration reference, in a fixed order. */
export function externalSecrets(config: ShopConfig): ExternalSecret[] {
  const shared = config.infrastructure.sharedPostgres;
  const instances = shared ? ['postgres'] : databaseServiceNames.map((service) => postgresInstanceOf(service, false));
  return [
    {
      name: jwtSecret.name,
      keys: [jwtSecret.privateKey, jwtSecret.publicKey],
      description: 'an Ed25519 key pair in PEM: private.pem is PKCS#8 (`openssl genpkey -algorithm ed25519`), public.pem is SPKI (`openssl pkey -pubout`)',
    },
    ...instances.map((instance) => ({
      name: postgresSecretName(instance),
      keys: [postgresPasswordKey],
      description: `password: the password of the superuser "postgres" of the Postgres instance ${instance} (POSTGRES_PASSWORD; only read when its volume is first initialized)`,
    })),
    ...databaseServiceNames.map((service) => ({
      name: databaseUrlSecretName(service),
      keys: [databaseUrlKey],
      description: `url: the ${service} service's DATABASE_URL, ${databaseUrlFormat(config, service)} (percent-encode the password)`,
    })),
    {
      name: rabbitmqSecret.name,
      keys: [rabbitmqSecret.username, rabbitmqSecret.password],
      description: "username and password: the broker's default user (RABBITMQ_DEFAULT_USER/PASS; only read when its volume is first initialized)",
    },
    {
      name: rabbitmqUrlSecret.name,
      keys: [rabbitmqUrlSecret.url],
      description: `url: amqp://<username>:<password>@${brokerHost(config.namespace)}:${infraPorts.amqp} with the credentials of Secret rabbitmq (percent-encoded); the fully qualified name, as KEDA reads it from another namespace`,
    },
  ];
}
