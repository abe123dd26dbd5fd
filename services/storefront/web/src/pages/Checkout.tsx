import { useEffect, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import { useCheckoutMutation } from '../api/api.ts';
import { ErrorMessage } from './common.tsx';
import { useAppDispatch } from '../hooks.ts';
import { lesson } from '../store.ts';

/** Tenths of a second while the request is open: the wait is the lesson. */
function useTimer(running: boolean): number {
  const [elapsed, setElapsed] = useState(0);
  useEffect(() => {
    if (!running) return;
    const started = performance.now();
    setElapsed(0);
    const timer = setInterval(() => setElapsed(performance.now() - started), 100);
    return () => clearInterval(timer);
  }, [running]);
  return elapsed;
}

export function Checkout() {
  const [mode, setMode] = useState<'async' | 'sync'>('async');
  // One key per order meant: a double click or a retry of the same checkout places one order.
  const [idempotencyKey, setIdempotencyKey] = useState(() => crypto.randomUUID());
  const [checkout, { error, isLoading }] = useCheckoutMutation();
  const elapsed = useTimer(isLoading);
  const dispatch = useAppDispatch();
  const navigate = useNavigate();

  // A second click can land before React re-renders the button as disabled.
  const sending = useRef(false);

  const submit = async () => {
    if (sending.current) return;
    sending.current = true;
    const answer = await checkout({ mode, idempotencyKey }).finally(() => {
      sending.current = false;
    });
    // A failed checkout keeps its key: trying again cannot place a second order.
    if ('error' in answer) return;
    setIdempotencyKey(crypto.randomUUID());
    const { order, answeredInMs } = answer.data;
    dispatch(lesson.actions.checkedOut({ mode, answeredInMs, orderId: order.id }));
    navigate(`/orders/${order.id}`, { state: { answeredInMs, mode } });
  };

  return (
    <div className="checkout">
      <fieldset disabled={isLoading}>
        <legend>How should the shop answer?</legend>
        <label>
          <input type="radio" name="mode" value="async" checked={mode === 'async'} onChange={() => setMode('async')} /> Event-driven: answer at once, the saga runs behind
        </label>
        <label>
          <input type="radio" name="mode" value="sync" checked={mode === 'sync'} onChange={() => setMode('sync')} /> Monolith-style: answer when the order is final
        </label>
      </fieldset>
      <button type="button" className="primary" disabled={isLoading} onClick={() => void submit()}>
        Check out
      </button>
      <p className="timer" role="timer" aria-live="off">
        {isLoading ? `Waiting for the answer… ${(elapsed / 1000).toFixed(1)} s` : ''}
      </p>
      <ErrorMessage error={error} />
    </div>
  );
}
