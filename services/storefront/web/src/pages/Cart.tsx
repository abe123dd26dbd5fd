import { Link } from 'react-router';
import { useCartQuery, useRemoveFromCartMutation, useSetQuantityMutation } from '../api/api.ts';
import { apiError, describeError } from '../errors.ts';
import { formatMoney } from '../money.ts';
import { Checkout } from './Checkout.tsx';
import { ErrorMessage } from './common.tsx';

export function CartPage() {
  const { data: cart, error, isLoading } = useCartQuery();
  const [setQuantity, quantityState] = useSetQuantityMutation();
  const [remove, removeState] = useRemoveFromCartMutation();
  const changeError = apiError(quantityState.error ?? removeState.error);
  if (isLoading) return <p>Loading your cart…</p>;
  return (
    <section aria-labelledby="cart-title">
      <h1 id="cart-title">Cart</h1>
      <ErrorMessage error={error} />
      {changeError && (
        <p role="alert" className="error">
          {changeError.status === 409 ? `That is more than we have: ${changeError.message}` : describeError(changeError)}
        </p>
      )}
      {cart && cart.items.length === 0 && (
        <p>
          Your cart is empty. <Link to="/products">Browse the products</Link>.
        </p>
      )}
      {cart && cart.items.length > 0 && (
        <>
          <table className="cart">
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col">Price</th>
                <th scope="col">Quantity</th>
                <th scope="col">Line total</th>
                <th scope="col">
                  <span className="visually-hidden">Remove</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {cart.items.map((item) => (
                <tr key={item.product_id}>
                  <th scope="row">
                    <Link to={`/products/${item.product_id}`}>{item.name}</Link>
                  </th>
                  <td>{formatMoney(item.price)}</td>
                  <td>
                    <input
                      type="number"
                      min={1}
                      max={1000}
                      aria-label={`Quantity of ${item.name}`}
                      defaultValue={item.quantity}
                      key={item.quantity}
                      onBlur={(event) => {
                        const quantity = Number(event.target.value);
                        if (Number.isInteger(quantity) && quantity >= 1 && quantity !== item.quantity) void setQuantity({ product_id: item.product_id, quantity });
                      }}
                      onKeyDown={(event) => {
                        if (event.key === 'Enter') event.currentTarget.blur();
                      }}
                    />
                  </td>
                  <td>{formatMoney(item.line_total)}</td>
                  <td>
                    <button type="button" aria-label={`Remove ${item.name}`} onClick={() => void remove(item.product_id)}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row" colSpan={3}>
                  Total
                </th>
                <td data-testid="cart-total">{formatMoney(cart.total)}</td>
                <td />
              </tr>
            </tfoot>
          </table>
          <Checkout />
        </>
      )}
    </section>
  );
}
