import { Link, useLocation, useParams } from 'react-router';
import { api, finalStatuses, useOrderQuery, type OrderStatus } from '../api/api.ts';
import { useEffect } from 'react';
import { useAppDispatch, useAppSelector } from '../hooks.ts';
import { formatMoney } from '../money.ts';
import { ErrorMessage } from './common.tsx';

const happyPath: OrderStatus[] = ['pending', 'stock_reserved', 'paid', 'completed'];
const pollingIntervalMs = 700;
/** Set by the storefront server, as a meta tag of the page, when the shop is configured with JAEGER_UI_URL. */
const jaegerUiUrl = () => document.querySelector<HTMLMetaElement>('meta[name="scaleshop-jaeger-ui"]')?.content;

interface CheckoutAnswer {
  answeredInMs: number;
  mode: 'async' | 'sync';
}

export function OrderPage() {
  const id = useParams().id!;
  const answer = (useLocation().state as CheckoutAnswer | null) ?? null;
  // The order as last fetched decides whether to go on polling: once final, the interval is 0 and polling ends.
  const cached = useAppSelector(api.endpoints.order.select(id)).data;
  const done = cached !== undefined && finalStatuses.has(cached.status);
  const { data: order, error } = useOrderQuery(id, { pollingInterval: done ? 0 : pollingIntervalMs, skipPollingIfUnfocused: true });
  const final = order ? finalStatuses.has(order.status) : false;
  const dispatch = useAppDispatch();
  // The saga empties the cart and moves stock behind the checkout's answer: once final, both are stale.
  useEffect(() => {
    if (final) dispatch(api.util.invalidateTags(['Cart', 'Product']));
  }, [final, dispatch]);
  const lessonState = useAppSelector((state) => state.lesson);

  if (!order) return error ? <ErrorMessage error={error} /> : <p>Loading the order…</p>;
  const first = order.history[0];
  const last = order.history.at(-1);
  const totalMs = final && first && last ? Date.parse(last.at) - Date.parse(order.created_at) : null;
  const seen = new Set(order.history.map((entry) => entry.status));
  const expected = order.status === 'rejected' || order.status === 'payment_failed' ? order.history.map((entry) => entry.status) : happyPath;

  return (
    <section aria-labelledby="order-title">
      <h1 id="order-title">Order {order.id.slice(0, 8)}</h1>
      <p>
        Status: <strong data-testid="order-status">{order.status}</strong>
        {!final && <span className="polling"> (following it live)</span>}
      </p>
      {order.failure_reason && <p className="error">Reason: {order.failure_reason}</p>}
      <ol className="timeline" aria-label="Status history">
        {expected.map((status) => {
          const entry = order.history.find((item) => item.status === status);
          return (
            <li key={status} className={status === 'rejected' || status === 'payment_failed' ? 'failed' : seen.has(status) ? 'done' : 'waiting'}>
              <span>{status}</span> {entry ? <time dateTime={entry.at}>{new Date(entry.at).toLocaleTimeString()}</time> : <span className="visually-hidden">not yet</span>}
            </li>
          );
        })}
      </ol>
      <dl className="facts">
        <dt>Total</dt>
        <dd>{formatMoney(order.total_amount)}</dd>
        {answer && (
          <>
            <dt>Checkout answered in</dt>
            <dd data-testid="answered-in">
              {answer.answeredInMs} ms ({answer.mode === 'sync' ? 'monolith-style' : 'event-driven'})
            </dd>
          </>
        )}
        <dt>Processing time (server)</dt>
        <dd>{order.processing_duration_ms === null ? '—' : `${order.processing_duration_ms} ms`}</dd>
        <dt>From checkout to final status</dt>
        <dd>{totalMs === null ? 'not final yet' : `${(totalMs / 1000).toFixed(1)} s`}</dd>
        {order.trace_id && <TraceLink traceId={order.trace_id} />}
      </dl>
      {(lessonState.async || lessonState.sync) && (
        <aside aria-labelledby="lesson-title" className="lesson">
          <h2 id="lesson-title">The lesson, side by side</h2>
          <p>Event-driven answered in {lessonState.async ? `${lessonState.async.answeredInMs} ms` : '— (not tried yet)'}.</p>
          <p>Monolith-style answered in {lessonState.sync ? `${lessonState.sync.answeredInMs} ms` : '— (not tried yet)'}.</p>
        </aside>
      )}
      <h2>Items</h2>
      <ul>
        {order.items.map((item) => (
          <li key={item.product_id}>
            {item.quantity} × {item.name}: {formatMoney(item.line_total)}
          </li>
        ))}
      </ul>
      <p>
        <Link to="/orders">All orders</Link>
      </p>
    </section>
  );
}

function TraceLink({ traceId }: { traceId: string }) {
  const jaeger = jaegerUiUrl();
  return (
    <>
      <dt>Trace of the checkout</dt>
      <dd data-testid="trace-id">{jaeger ? <a href={`${jaeger}/trace/${traceId}`}>{traceId}</a> : <code>{traceId}</code>}</dd>
    </>
  );
}
