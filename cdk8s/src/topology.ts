/**
 * What the cdk8s app needs to know of the shop's layout. The services (ports, calls, databases,
 * saga parts, settings) come from the platform's topology, which local mode reads too; what is
 * here is the cluster's own: the infrastructure's ports and where each database lives.
 */
import { databaseName as platformDatabaseName, type DatabaseServiceName } from '@scaleshop/platform/topology';

export {
  databaseServiceNames,
  secretSettingsOf,
  serviceEnvironment,
  serviceNames as appServiceNames,
  serviceOf,
  type DatabaseServiceName,
  type ServiceName as AppServiceName,
} from '@scaleshop/platform/topology';

/** Well-known ports of the infrastructure: the constructs listen on them, the services connect to them. */
export const infraPorts = {
  postgres: 5432,
  amqp: 5672,
  redis: 6379,
  rabbitmqManagement: 15672,
  otlpGrpc: 4317,
  otlpHttp: 4318,
  jaegerUi: 16686,
  jaegerHealth: 13133,
  smtp: 1025,
  mailpitUi: 8025,
  dns: 53,
} as const;

/** The database of a service, in its own instance or in the shared one. */
export function databaseName(service: DatabaseServiceName): string {
  return platformDatabaseName(service);
}

/** The name of the Postgres StatefulSet and headless Service that holds a service's database. */
export function postgresInstanceOf(service: DatabaseServiceName, sharedPostgres: boolean): string {
  return sharedPostgres ? 'postgres' : `postgres-${service}`;
}
