import { hostname } from 'node:os';

/**
 * Which replica of its service this process is: SERVICE_INSTANCE_ID (local mode names them
 * `payment-2`), else the pod's name in a cluster, else the host and process id. Traces carry it
 * as service.instance.id, log lines as `instance`, metrics as the label `replica`, so one
 * replica's work can be told from another's.
 */
export function instanceId(env: Record<string, string | undefined> = process.env): string {
  const named = env.SERVICE_INSTANCE_ID?.trim() || env.K8S_POD_NAME?.trim();
  return named || `${hostname()}-${process.pid}`;
}
