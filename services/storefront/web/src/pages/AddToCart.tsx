import { useLocation, useNavigate } from 'react-router';
import { useAddToCartMutation, type Product } from '../api/api.ts';
import { apiError, describeError } from '../errors.ts';
import { useAppSelector } from '../hooks.ts';

export function AddToCart({ product, quantity = 1 }: { product: Product; quantity?: number }) {
  const token = useAppSelector((state) => state.session.token);
  const navigate = useNavigate();
  const location = useLocation();
  const [add, { error, isLoading, isSuccess }] = useAddToCartMutation();
  const failure = apiError(error);
  return (
    <div className="add">
      <button
        type="button"
        disabled={product.stock === 0 || isLoading}
        aria-label={`Add ${product.name} to cart`}
        onClick={() => {
          if (!token) navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
          else void add({ product_id: product.id, quantity });
        }}
      >
        Add to cart
      </button>
      <span role="status">{isSuccess && !isLoading ? 'Added' : ''}</span>
      {failure && (
        <p role="alert" className="error">
          {failure.status === 409 ? `Not enough stock: ${failure.message}` : describeError(failure)}
        </p>
      )}
    </div>
  );
}
