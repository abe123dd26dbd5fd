/**
 * The journeys' runtime under Node: undici for HTTP, and every measurement into Metrics.
 *
 * A request's latency runs from when it was due to when its whole body has been read. The first
 * request of an iteration is due when the iteration was (OpenLoop's schedule), so a generator
 * that starts it late, or a connection pool it waits for, counts against the shop's latency
 * instead of disappearing; every later request is due when the journey asks for it, which is
 * right after the answer before it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { HttpClient, HttpRequest, HttpResponse, LoadRuntime } from '../loadtests/lib/runtime.ts';
import { builtinMetrics, sagaCompletionMetric, sagaFailedMetric } from '../loadtests/lib/thresholds.ts';
import { setupNamePrefix } from '../loadtests/lib/shop.ts';
import { newTraceParent } from '../loadtests/lib/traceparent.ts';
import type { Metrics } from './metrics.ts';

export interface SlowRequest {
  name: string;
  ms: number;
  status: number;
  traceId: string | undefined;
}

export interface NodeHttpOptions {
  /** At most this many connections at once (requests beyond wait for one, and that wait counts). */
  connections: number;
  /** Share of requests whose W3C traceparent is marked sampled; null sends none. */
  traceSampling: number | null;
  /** Called with when each request was due and when it was sent, both performance.now(). */
  onSend?: (dueAt: number, sentAt: number) => void;
}

const defaultExpected = (status: number) => status >= 200 && status < 400;
const keptSlowest = 5;
/** Sampled requests kept per request name, a uniform sample of them all (reservoir sampling). */
const keptSampledPerName = 256;

export class NodeHttp {
  private readonly pool: Pool;
  private readonly pathPrefix: string;
  readonly slowest: SlowRequest[] = [];
  private readonly sampled = new Map<string, { seen: number; kept: SlowRequest[] }>();
  private readonly metrics: Metrics;
  private readonly options: NodeHttpOptions;

  constructor(baseUrl: string, metrics: Metrics, options: NodeHttpOptions) {
    this.metrics = metrics;
    this.options = options;
    // A base URL may carry a path (a shop behind a prefix): requests go below it.
    this.pathPrefix = new URL(baseUrl).pathname.replace(/\/+$/, '');
    this.pool = new Pool(new URL(baseUrl).origin, { connections: options.connections, pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000 });
  }

  /** A client for one iteration: its first request is due at `firstDueAt`; `counted` false records nothing. */
  client(firstDueAt: number | undefined, counted = true): HttpClient {
    let nextDueAt = firstDueAt;
    return {
      request: (request) => {
        const dueAt = nextDueAt ?? performance.now();
        nextDueAt = undefined;
        return this.send(request, dueAt, counted);
      },
    };
  }

  private async send(request: HttpRequest, dueAt: number, counted: boolean): Promise<HttpResponse> {
    // The schedule never starts an iteration early; this holds for any other caller too.
    while (performance.now() < dueAt) await sleep(Math.max(0, dueAt - performance.now() - 1));
    const trace = this.options.traceSampling === null ? undefined : newTraceParent(this.options.traceSampling);
    const headers: Record<string, string> = {
      ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
      ...(trace ? { traceparent: trace.header } : {}),
      ...request.headers,
    };
    let response: HttpResponse;
    this.options.onSend?.(dueAt, performance.now());
    try {
      const answer = await this.pool.request({
        method: request.method,
        path: `${this.pathPrefix}${request.path}`,
        headers,
        body: request.body === undefined ? null : JSON.stringify(request.body),
      });
      const text = await answer.body.text();
      const responseHeaders: Record<string, string> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
      let json: unknown;
      if (text !== '' && (responseHeaders['content-type'] ?? '').includes('json')) {
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
      }
      response = { status: answer.statusCode, headers: responseHeaders, json };
    } catch (error) {
      response = { status: 0, headers: {}, json: undefined, error: error instanceof Error ? error.message : String(error) };
    }
    const ms = performance.now() - dueAt;
    if (counted) {
      const failed = request.expectedStatuses ? !request.expectedStatuses.includes(response.status) : !defaultExpected(response.status);
      this.metrics.trend(builtinMetrics.duration, ms, request.name);
      this.metrics.rate(builtinMetrics.failed, failed, request.name);
      this.metrics.count(builtinMetrics.requests, 1, request.name);
      this.metrics.status(response.status);
      const noted = { name: request.name, ms, status: response.status, traceId: trace?.sampled ? trace.traceId : undefined };
      this.noteIfSlow(noted);
      if (noted.traceId !== undefined) this.keepSampled(noted);
    }
    return response;
  }

  private noteIfSlow(request: SlowRequest): void {
    // Preparing a run (hashing hundreds of passwords) is slow on purpose and not what the run measures.
    if (request.name.startsWith(setupNamePrefix)) return;
    if (this.slowest.length === keptSlowest && request.ms <= this.slowest.at(-1)!.ms) return;
    this.slowest.push(request);
    this.slowest.sort((a, b) => b.ms - a.ms);
    this.slowest.length = Math.min(this.slowest.length, keptSlowest);
  }

  private keepSampled(request: SlowRequest): void {
    if (request.name.startsWith(setupNamePrefix)) return;
    const reservoir = this.sampled.get(request.name) ?? { seen: 0, kept: [] };
    this.sampled.set(request.name, reservoir);
    reservoir.seen += 1;
    if (reservoir.kept.length < keptSampledPerName) reservoir.kept.push(request);
    else {
      const slot = Math.floor(Math.random() * reservoir.seen);
      if (slot < keptSampledPerName) reservoir.kept[slot] = request;
    }
  }

  /** Per request name, a uniform sample of the traced requests (all of them, up to 256), fastest first. */
  traced(): Map<string, SlowRequest[]> {
    return new Map([...this.sampled].map(([name, reservoir]) => [name, [...reservoir.kept].sort((a, b) => a.ms - b.ms)]));
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export function nodeRuntime(http: HttpClient, metrics: Metrics, counted = true, log: (message: string) => void = (message) => console.log(message)): LoadRuntime {
  return {
    http,
    check(value, checkers) {
      let all = true;
      for (const [name, predicate] of Object.entries(checkers)) {
        let passed: boolean;
        try {
          passed = predicate(value) === true;
        } catch {
          passed = false;
        }
        if (counted) metrics.check(name, passed);
        all &&= passed;
      }
      return all;
    },
    recordSaga(durationMs, endedAsExpected) {
      if (!counted) return;
      // The order's history is stamped by the shop's clocks, not this one: a skew must not break the histogram.
      metrics.trend(sagaCompletionMetric, Math.max(0, durationMs));
      metrics.rate(sagaFailedMetric, !endedAsExpected);
    },
    sleep: (ms) => sleep(ms),
    log,
  };
}
