/** The journeys' runtime under k6: k6/http's asyncRequest, check(), and two custom metrics for the saga. */
import { check } from 'k6';
import http, { type RefinedParams } from 'k6/http';
import { Rate, Trend } from 'k6/metrics';
import { setTimeout } from 'k6/timers';
import type { HttpRequest, HttpResponse, LoadRuntime } from '../lib/runtime.ts';
import { requestP99Ms, sagaCompletionMetric, sagaFailedMetric } from '../lib/thresholds.ts';
import { newTraceParent } from '../lib/traceparent.ts';

// Custom metrics exist only when made in the init context, that is, when this module loads.
const sagaCompletion = new Trend(sagaCompletionMetric, true);
const sagaFailed = new Rate(sagaFailedMetric);

const callbacks = new Map<string, ReturnType<typeof http.expectedStatuses>>();
const expected = (statuses: readonly number[]) => {
  const key = statuses.join(',');
  let callback = callbacks.get(key);
  if (!callback) callbacks.set(key, (callback = http.expectedStatuses(...statuses)));
  return callback;
};

/** At most this many slow requests are logged per VU, with the trace id to look for in Jaeger. */
const slowRequestsLogged = 10;

export function k6Runtime(baseUrl: string, traceSampling: number): LoadRuntime {
  let slowLogged = 0;
  return {
    http: {
      async request(request: HttpRequest): Promise<HttpResponse> {
        const trace = newTraceParent(traceSampling);
        const params: RefinedParams<'text'> = {
          headers: {
            ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
            traceparent: trace.header,
            ...request.headers,
          },
          tags: { name: request.name },
          responseType: 'text',
          timeout: '60s',
          ...(request.expectedStatuses ? { responseCallback: expected(request.expectedStatuses) } : {}),
        };
        const response = await http.asyncRequest(request.method, `${baseUrl}${request.path}`, request.body === undefined ? null : JSON.stringify(request.body), params);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) headers[name.toLowerCase()] = value;
        let json: unknown;
        if (typeof response.body === 'string' && response.body !== '') {
          try {
            json = JSON.parse(response.body);
          } catch {
            json = undefined;
          }
        }
        const objective = (requestP99Ms as Record<string, number | undefined>)[request.name];
        if (trace.sampled && objective !== undefined && response.timings.duration > objective && slowRequestsLogged > slowLogged++) {
          console.warn(`slow ${request.name}: ${response.timings.duration.toFixed(0)} ms (p99 objective ${objective} ms), trace ${trace.traceId}`);
        }
        return { status: response.status, headers, json, ...(response.error ? { error: response.error } : {}) };
      },
    },
    check: (value, checkers) => check(value, checkers),
    recordSaga(durationMs, endedAsExpected) {
      sagaCompletion.add(durationMs);
      sagaFailed.add(!endedAsExpected);
    },
    sleep: (ms) => new Promise<void>((resolve) => void setTimeout(resolve, ms)),
    log: (message) => console.log(message),
  };
}
