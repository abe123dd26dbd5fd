import type { App } from './http-app.ts';
import type { Logger } from './logger.ts';
import { redactUrl } from './config.ts';
import { serveMetrics, type MetricsServer } from './metrics.ts';
import { shutdownTelemetry, telemetryState } from './telemetry/state.ts';

export interface RunOptions {
  app: App;
  host: string;
  port: number;
  /** Listen with SO_REUSEPORT, so that replicas on one machine share the port (REUSE_PORT). */
  reusePort?: boolean;
  logger: Logger;
  /** Upper bound on a graceful shutdown before the process exits anyway. */
  shutdownTimeoutMs?: number;
}

/**
 * Listens, then shuts down gracefully on SIGTERM or SIGINT: /health/ready turns 503,
 * the server stops accepting connections, requests in flight finish, and the app's
 * onClose hooks release pools and connections. A second signal exits at once.
 */
export async function runService(options: RunOptions): Promise<void> {
  const { app, logger } = options;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 15_000;
  let stopping = false;
  let metrics: MetricsServer | undefined;

  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeout_ms: shutdownTimeoutMs }, 'graceful shutdown timed out');
      process.exit(1);
    }, shutdownTimeoutMs);
    timer.unref();
    try {
      await app.close();
      // After the app: a scrape during the shutdown still sees the final counts.
      await metrics?.close();
      // The spans of the last requests and messages are still buffered.
      await shutdownTelemetry();
      logger.info('shutdown complete');
      process.exitCode = 0;
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exitCode = 1;
    } finally {
      clearTimeout(timer);
    }
  };

  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    process.exit(1);
  });

  await app.listen({ host: options.host, port: options.port, ...(options.reusePort ? { reusePort: true } : {}) });
  if (app.metricsPort !== undefined) {
    metrics = await serveMetrics(options.host, app.metricsPort);
    logger.info({ metrics_port: metrics.port }, 'serving /metrics on its own port');
  }
  const telemetry = telemetryState();
  if (telemetry?.enabled) {
    logger.info({ otlp_endpoint: redactUrl(telemetry.settings.endpoint ?? ''), otlp_protocol: telemetry.settings.protocol, service_name: telemetry.serviceName }, 'exporting traces over OTLP');
  } else if (telemetry) {
    logger.debug({ reason: telemetry.settings.disabledBecause }, 'tracing off');
  }
}

/**
 * Runs a service's start function, logging a configuration or start-up failure
 * in one clear line and exiting non-zero instead of printing a stack trace.
 */
export function startMain(name: string, start: () => Promise<void>): void {
  start().catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${name} failed to start: ${message}\n`);
    process.exit(1);
  });
}
