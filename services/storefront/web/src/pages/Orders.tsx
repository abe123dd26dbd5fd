import { Link, useSearchParams } from 'react-router';
import { useOrdersQuery } from '../api/api.ts';
import { formatMoney } from '../money.ts';
import { ErrorMessage } from './common.tsx';

const pageSize = 20;

export function Orders() {
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const { data, error, isLoading } = useOrdersQuery({ limit: pageSize, offset: (page - 1) * pageSize }, { refetchOnMountOrArgChange: true });
  const pages = data ? Math.max(1, Math.ceil(data.total / pageSize)) : 1;
  return (
    <section aria-labelledby="orders-title">
      <h1 id="orders-title">Orders</h1>
      <ErrorMessage error={error} />
      {isLoading && <p>Loading your orders…</p>}
      {data && data.items.length === 0 && (
        <p>
          No orders yet. <Link to="/products">Browse the products</Link>.
        </p>
      )}
      {data && data.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Order</th>
              <th scope="col">Placed</th>
              <th scope="col">Status</th>
              <th scope="col">Total</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((order) => (
              <tr key={order.id}>
                <th scope="row">
                  <Link to={`/orders/${order.id}`}>{order.id.slice(0, 8)}</Link>
                </th>
                <td>
                  <time dateTime={order.created_at}>{new Date(order.created_at).toLocaleString()}</time>
                </td>
                <td>{order.status}</td>
                <td>{formatMoney(order.total_amount)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {pages > 1 && (
        <nav aria-label="Pages" className="pager">
          <button type="button" disabled={page <= 1} onClick={() => setParams(page - 1 > 1 ? { page: String(page - 1) } : {})}>
            Previous page
          </button>
          <span>
            Page {page} of {pages}
          </span>
          <button type="button" disabled={page >= pages} onClick={() => setParams({ page: String(page + 1) })}>
            Next page
          </button>
        </nav>
      )}
    </section>
  );
}
