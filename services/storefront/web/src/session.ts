import { createSlice, type PayloadAction } from '@reduxjs/toolkit';

/**
 * The access token lives in the store, in memory only: not in localStorage, where any script
 * on the page could read it long after. A reload means logging in again; the token lasts 15
 * minutes anyway.
 */
export interface SessionState {
  token: string | null;
  /** Why the last session ended, to say so on the login page. */
  ended: 'expired' | 'logged_out' | null;
}

const initialState: SessionState = { token: null, ended: null };

export const session = createSlice({
  name: 'session',
  initialState,
  reducers: {
    loggedIn: (_state, action: PayloadAction<string>) => ({ token: action.payload, ended: null }),
    loggedOut: () => ({ token: null, ended: 'logged_out' as const }),
    expired: () => ({ token: null, ended: 'expired' as const }),
  },
});

export const { loggedIn, loggedOut, expired } = session.actions;
