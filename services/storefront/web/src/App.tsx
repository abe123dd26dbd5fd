import { Component, useEffect, type ReactNode } from 'react';
import { Link, NavLink, Navigate, Outlet, Route, Routes, useLocation, useNavigate } from 'react-router';
import { useCartQuery, useMeQuery } from './api/api.ts';
import { useAppDispatch, useAppSelector } from './hooks.ts';
import { logOut } from './store.ts';
import { Catalog } from './pages/Catalog.tsx';
import { ProductPage } from './pages/Product.tsx';
import { Login, Register } from './pages/Login.tsx';
import { CartPage } from './pages/Cart.tsx';
import { OrderPage } from './pages/Order.tsx';
import { Orders } from './pages/Orders.tsx';
import { Admin } from './pages/Admin.tsx';

export function App() {
  return (
    <ErrorBoundary>
      <Routes>
        <Route element={<Layout />}>
          <Route index element={<Navigate to="/products" replace />} />
          <Route path="products" element={<Catalog />} />
          <Route path="products/:id" element={<ProductPage />} />
          <Route path="login" element={<Login />} />
          <Route path="register" element={<Register />} />
          <Route element={<RequireSession />}>
            <Route path="cart" element={<CartPage />} />
            <Route path="orders" element={<Orders />} />
            <Route path="orders/:id" element={<OrderPage />} />
            <Route path="admin" element={<Admin />} />
          </Route>
          <Route path="*" element={<p>There is no page here. <Link to="/products">See the products</Link>.</p>} />
        </Route>
      </Routes>
    </ErrorBoundary>
  );
}

function Layout() {
  const token = useAppSelector((state) => state.session.token);
  const dispatch = useAppDispatch();
  const navigate = useNavigate();
  const { data: cart } = useCartQuery(undefined, { skip: !token });
  const { data: me } = useMeQuery(undefined, { skip: !token });
  const location = useLocation();
  // Logging out happens once the shop's page is shown: ended on an account page, the session would send the user to log in instead.
  useEffect(() => {
    if ((location.state as { logOut?: boolean } | null)?.logOut && token) logOut(dispatch);
  }, [location, token, dispatch]);
  const count = cart?.items.reduce((sum, item) => sum + item.quantity, 0) ?? 0;
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header>
        <Link to="/products" className="brand">scaleshop</Link>
        <nav aria-label="Main">
          <NavLink to="/products">Products</NavLink>
          <NavLink to="/cart">
            Cart{' '}
            {count > 0 && (
              <span className="badge" aria-label={`${count} ${count === 1 ? 'item' : 'items'}`}>
                {count}
              </span>
            )}
          </NavLink>
          <NavLink to="/orders">Orders</NavLink>
          {me?.role === 'admin' && <NavLink to="/admin">Admin</NavLink>}
        </nav>
        <div className="account">
          {token ? (
            <>
              <span>{me?.name ?? ''}</span>
              <button
                type="button"
                onClick={() => {
                  void navigate('/products', { state: { logOut: true } });
                }}
              >
                Log out
              </button>
            </>
          ) : (
            <Link to="/login">Log in</Link>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}

/** Pages of the account: without a session (never had one, or it expired) the user logs in, then comes back here. */
function RequireSession() {
  const token = useAppSelector((state) => state.session.token);
  const location = useLocation();
  if (!token) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <Outlet />;
}

class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  override state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override render() {
    if (this.state.error) {
      return (
        <div role="alert" className="error-page">
          <h1>Something went wrong</h1>
          <p>{this.state.error.message}</p>
          <a href="/products">Back to the shop</a>
        </div>
      );
    }
    return this.props.children;
  }
}
