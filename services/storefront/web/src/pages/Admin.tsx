import { useState, type FormEvent } from 'react';
import { useCreateProductMutation, useMeQuery, useProductsQuery, useSetStockMutation } from '../api/api.ts';
import { apiError, describeError } from '../errors.ts';
import { ErrorMessage } from './common.tsx';

export function Admin() {
  const { data: me } = useMeQuery();
  if (!me) return <p>Loading…</p>;
  if (me.role !== 'admin') return <p role="alert">This page is for administrators.</p>;
  return (
    <section>
      <h1>Admin</h1>
      <NewProductForm />
      <StockTable />
    </section>
  );
}

function NewProductForm() {
  const [create, { error, isLoading, data }] = useCreateProductMutation();
  const [values, setValues] = useState({ name: '', description: '', price: '', stock: '0', category: '' });
  const failure = apiError(error);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void create({ ...values, stock: Number(values.stock) });
  };
  const field = (name: keyof typeof values, label: string, type = 'text') => (
    <div className="field">
      <label>
        {label}{' '}
        <input name={name} type={type} value={values[name]} required onChange={(event) => setValues((current) => ({ ...current, [name]: event.target.value }))} />
      </label>
      {failure?.field === name && <p className="error">{failure.message}</p>}
    </div>
  );
  return (
    <form onSubmit={submit}>
      <h2>Add a product</h2>
      {field('name', 'Name')}
      {field('description', 'Description')}
      {field('price', 'Price (e.g. 19.99)')}
      {field('stock', 'Stock', 'number')}
      {field('category', 'Category')}
      {failure && !failure.field && (
        <p role="alert" className="error">
          {describeError(failure)}
        </p>
      )}
      <button type="submit" disabled={isLoading}>
        Add product
      </button>
      <span role="status">{data ? `Added ${data.name}` : ''}</span>
    </form>
  );
}

function StockTable() {
  const { data, error } = useProductsQuery({ limit: 100, offset: 0 });
  const [setStock, stockState] = useSetStockMutation();
  return (
    <>
      <h2>Stock</h2>
      <ErrorMessage error={error ?? stockState.error} />
      <ul>
        {data?.items.map((product) => (
          <li key={product.id}>
            <label>
              {product.name}{' '}
              <input
                type="number"
                min={0}
                defaultValue={product.stock}
                key={product.stock}
                onBlur={(event) => {
                  const stock = Number(event.target.value);
                  if (Number.isInteger(stock) && stock >= 0 && stock !== product.stock) void setStock({ id: product.id, stock });
                }}
              />
            </label>
          </li>
        ))}
      </ul>
    </>
  );
}
