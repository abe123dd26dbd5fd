/**
 * The telemetry entry point, loaded before anything else:
 *
 *   node --import @scaleshop/platform/telemetry services/<name>/src/main.ts
 *
 * With OTEL_EXPORTER_OTLP_ENDPOINT set it registers the ESM loader hook and starts the
 * OpenTelemetry SDK (see tracing.ts); without it, it does nothing more than read the
 * environment, and the SDK is not even loaded.
 */
import { isMainThread } from 'node:worker_threads';
import { telemetrySettings } from './settings.ts';
import { setTelemetryState } from './state.ts';

if (isMainThread) {
  const settings = telemetrySettings(process.env, process.argv[1]);
  for (const warning of settings.warnings) process.stderr.write(`telemetry: ${warning}\n`);
  if (settings.enabled) {
    const { startTracing } = await import('./tracing.ts');
    await startTracing(settings);
  } else {
    setTelemetryState({ enabled: false, serviceName: settings.serviceName, settings, shutdown: async () => {} });
  }
}
