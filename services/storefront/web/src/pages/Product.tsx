import { Link, useParams } from 'react-router';
import { useProductQuery } from '../api/api.ts';
import { formatMoney } from '../money.ts';
import { AddToCart } from './AddToCart.tsx';
import { StockNote } from './Catalog.tsx';
import { ErrorMessage } from './common.tsx';

export function ProductPage() {
  const id = Number(useParams().id);
  const { data: product, error, isLoading } = useProductQuery(id, { skip: !Number.isInteger(id) || id < 1 });
  if (isLoading) return <p>Loading…</p>;
  return (
    <section>
      <p>
        <Link to="/products">← All products</Link>
      </p>
      <ErrorMessage error={error} />
      {product && (
        <article>
          <h1>{product.name}</h1>
          <p className="category">{product.category}</p>
          <p>{product.description}</p>
          <p className="price">{formatMoney(product.price)}</p>
          <StockNote stock={product.stock} />
          <AddToCart product={product} />
        </article>
      )}
    </section>
  );
}
