import { combineReducers, configureStore, createSlice, type PayloadAction } from '@reduxjs/toolkit';
import { setupListeners } from '@reduxjs/toolkit/query';
import { api } from './api/api.ts';
import { session, loggedOut } from './session.ts';

/** The last checkout of each kind, so the two answer times can be seen side by side. */
export interface LessonState {
  async: { answeredInMs: number; orderId: string } | null;
  sync: { answeredInMs: number; orderId: string } | null;
}

export const lesson = createSlice({
  name: 'lesson',
  initialState: { async: null, sync: null } as LessonState,
  reducers: {
    reset: () => ({ async: null, sync: null }),
    checkedOut: (state, action: PayloadAction<{ mode: 'async' | 'sync'; answeredInMs: number; orderId: string }>) => {
      state[action.payload.mode] = { answeredInMs: action.payload.answeredInMs, orderId: action.payload.orderId };
    },
  },
});

const reducer = combineReducers({ session: session.reducer, lesson: lesson.reducer, [api.reducerPath]: api.reducer });

export function createStore(preloaded?: Partial<ReturnType<typeof reducer>>) {
  const store = configureStore({
    reducer,
    middleware: (getDefault) => getDefault().concat(api.middleware),
    ...(preloaded ? { preloadedState: preloaded as ReturnType<typeof reducer> } : {}),
  });
  // Needed for polling to pause while the tab is hidden (skipPollingIfUnfocused).
  setupListeners(store.dispatch);
  return store;
}

export type Store = ReturnType<typeof createStore>;
export type RootState = ReturnType<Store['getState']>;
export type Dispatch = Store['dispatch'];

/** Logging out forgets everything the session saw: cached carts and orders included. */
export function logOut(dispatch: Dispatch): void {
  dispatch(loggedOut());
  dispatch(lesson.actions.reset());
  dispatch(api.util.resetApiState());
}
