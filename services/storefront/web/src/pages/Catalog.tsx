import { Link, useSearchParams } from 'react-router';
import { useProductsQuery, type Product } from '../api/api.ts';
import { ErrorMessage } from './common.tsx';
import { AddToCart } from './AddToCart.tsx';
import { formatMoney } from '../money.ts';

export const pageSize = 12;

/** The catalog has no categories route; the first 100 products (the API's largest page) name them. */
function useCategories(): string[] {
  const { data } = useProductsQuery({ limit: 100, offset: 0 });
  return [...new Set(data?.items.map((product) => product.category) ?? [])].sort();
}

export function StockNote({ stock }: { stock: number }) {
  if (stock === 0) return <span className="stock out">out of stock</span>;
  if (stock <= 5) return <span className="stock low">only {stock} left</span>;
  return <span className="stock">{stock} in stock</span>;
}

/** Filter and page live in the URL, so the back button and shared links keep them. */
export function Catalog() {
  const [params, setParams] = useSearchParams();
  const category = params.get('category') ?? '';
  const page = Math.max(1, Number.parseInt(params.get('page') ?? '1', 10) || 1);
  const categories = useCategories();
  const { data, error, isLoading, isFetching } = useProductsQuery({ ...(category ? { category } : {}), limit: pageSize, offset: (page - 1) * pageSize });
  const pages = data ? Math.max(1, Math.ceil(data.total / pageSize)) : 1;
  const go = (next: { category?: string; page?: number }) => {
    const merged = new URLSearchParams();
    const nextCategory = next.category ?? category;
    const nextPage = next.page ?? page;
    if (nextCategory) merged.set('category', nextCategory);
    if (nextPage > 1) merged.set('page', String(nextPage));
    setParams(merged);
  };

  return (
    <section aria-labelledby="catalog-title">
      <h1 id="catalog-title">Products</h1>
      <label>
        Category{' '}
        <select value={category} onChange={(event) => go({ category: event.target.value, page: 1 })}>
          <option value="">All</option>
          {categories.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      </label>
      <ErrorMessage error={error} />
      {isLoading && <p>Loading products…</p>}
      <ul className="products" aria-busy={isFetching}>
        {data?.items.map((product) => <ProductCard key={product.id} product={product} />)}
      </ul>
      {data && data.items.length === 0 && <p>No products here.</p>}
      <nav aria-label="Pages" className="pager">
        <button type="button" disabled={page <= 1} onClick={() => go({ page: page - 1 })}>
          Previous page
        </button>
        <span>
          Page {page} of {pages}
        </span>
        <button type="button" disabled={page >= pages} onClick={() => go({ page: page + 1 })}>
          Next page
        </button>
      </nav>
    </section>
  );
}

function ProductCard({ product }: { product: Product }) {
  return (
    <li className="card">
      <h2>
        <Link to={`/products/${product.id}`}>{product.name}</Link>
      </h2>
      <p className="category">{product.category}</p>
      <p className="price">{formatMoney(product.price)}</p>
      <StockNote stock={product.stock} />
      <AddToCart product={product} />
    </li>
  );
}
