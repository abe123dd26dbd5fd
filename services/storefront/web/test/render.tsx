import { render } from '@testing-library/react';
import { Provider } from 'react-redux';
import { MemoryRouter, useLocation } from 'react-router';
import { App } from '../src/App.tsx';
import { loggedIn } from '../src/session.ts';
import { createStore } from '../src/store.ts';

/** Where the app is now, for a test to read as text. */
function Location() {
  const location = useLocation();
  return <output data-testid="location">{location.pathname + location.search}</output>;
}

/** The whole app, with a real store and router, at `path`; logged in when given a token. */
export function renderApp(path: string, options: { token?: string } = {}) {
  const store = createStore();
  if (options.token) store.dispatch(loggedIn(options.token));
  const view = render(
    <Provider store={store}>
      <MemoryRouter initialEntries={[path]}>
        <App />
        <Location />
      </MemoryRouter>
    </Provider>,
  );
  return { store, ...view };
}
