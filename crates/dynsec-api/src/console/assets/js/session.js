// The signed-in session: the token lives in sessionStorage only (one tab,
// gone when it closes), never in the URL or localStorage.

import { call } from './api.js';

const KEY = 'dynsec.console.session';

/** The session ({ token, accessId, name, isAdmin, expiration }) or null. */
export function current() {
  try {
    const session = JSON.parse(sessionStorage.getItem(KEY) ?? 'null');
    if (!session || typeof session.token !== 'string') return null;
    if (session.expiration && Date.parse(session.expiration) <= Date.now()) {
      forget();
      return null;
    }
    return session;
  } catch {
    return null;
  }
}

export function token() {
  return current()?.token ?? null;
}

/** Exchanges an access id and key for a token, then learns who and until when. */
export async function signIn(accessId, accessKey) {
  const answer = await call('auth', {
    'access-id': accessId,
    'access-key': accessKey,
    'access-type': 'access_key',
  }, { anonymous: true });
  const status = await call('validate-token', { token: answer.token }, { anonymous: true });
  const session = {
    token: answer.token,
    accessId: status.access_id || accessId,
    name: status.auth_method_name || accessId,
    isAdmin: Boolean(status.is_admin),
    expiration: status.expiration || answer.expiration,
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

/**
 * Asks the gateway whether the stored token is still good (after a reload,
 * the key may have been deleted meanwhile); forgets it when not.
 */
export async function revalidate() {
  const session = current();
  if (!session) return null;
  try {
    const status = await call('validate-token', { token: session.token }, { anonymous: true });
    if (!status.is_valid) {
      forget();
      return null;
    }
    session.expiration = status.expiration;
    sessionStorage.setItem(KEY, JSON.stringify(session));
    return session;
  } catch {
    // The gateway is unreachable: keep the session; the next call will tell.
    return session;
  }
}

/**
 * Forgets the token in this tab. The API has no operation to end a token
 * early; it stops working at its expiration.
 */
export function forget() {
  sessionStorage.removeItem(KEY);
}
