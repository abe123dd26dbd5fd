/**
 * What the telemetry start-up leaves for the rest of the platform: whether tracing runs, the
 * fastify plugin to register on every app, and how to flush the spans at shutdown.
 * Kept on globalThis so that it is one per process even if this file were loaded twice.
 */
import type { FastifyInstance, FastifyPluginCallback } from 'fastify';
import type { TelemetrySettings } from './settings.ts';

export interface TelemetryState {
  enabled: boolean;
  serviceName: string;
  settings: TelemetrySettings;
  /** @fastify/otel's plugin, registered by createHttpApp first of all. */
  fastifyPlugin?: () => FastifyPluginCallback;
  /** Exports what is buffered and stops; called once the service has closed. */
  shutdown(): Promise<void>;
}

const key = Symbol.for('scaleshop.telemetry');

export function telemetryState(): TelemetryState | undefined {
  return (globalThis as { [key]?: TelemetryState })[key];
}

export function setTelemetryState(state: TelemetryState | undefined): void {
  (globalThis as { [key]?: TelemetryState })[key] = state;
}

/**
 * Registers @fastify/otel's plugin on `app` when tracing runs. Call it first, so that every route
 * and hook registered after it is traced.
 */
export async function traceRequests(app: Pick<FastifyInstance, 'register'>): Promise<void> {
  const plugin = telemetryState()?.fastifyPlugin;
  if (plugin) await app.register(plugin());
}

export function tracingEnabled(): boolean {
  return telemetryState()?.enabled === true;
}

/** Flushes buffered spans, bounded so a dead collector cannot hold up a shutdown. */
export async function shutdownTelemetry(timeoutMs = 5_000): Promise<void> {
  const state = telemetryState();
  if (!state?.enabled) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    state.shutdown().catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
