// Hash routes: `#/<screen><item path>?<query>`, e.g.
// `#/dynamic-secret/prod/aws/dev-creds`. Item paths are not secrets, so a
// screen can be bookmarked and reloaded; nothing secret ever enters the URL.

/** Encodes an item path segment by segment, keeping its slashes. */
function encodePath(path) {
  const segments = String(path ?? '').split('/').filter(Boolean);
  return segments.length ? `/${segments.map(encodeURIComponent).join('/')}` : '';
}

/** The hash for `screen` at `path` with `query` (an object of strings). */
export function href(screen, path = '', query = undefined) {
  const search = query ? new URLSearchParams(
    Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== ''),
  ).toString() : '';
  return `#/${screen}${encodePath(path)}${search ? `?${search}` : ''}`;
}

/** Navigates to `screen` (the hashchange listener renders it). */
export function go(screen, path = '', query = undefined) {
  const target = href(screen, path, query);
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = target;
}

/** The current route: { screen, path ('/'-rooted item path), query, hash }. */
export function current() {
  const raw = location.hash.startsWith('#/') ? location.hash.slice(2) : '';
  const [pathPart, search = ''] = raw.split('?');
  const [screen = '', ...segments] = pathPart.split('/');
  let path;
  try {
    path = `/${segments.filter(Boolean).map(decodeURIComponent).join('/')}`;
  } catch {
    path = '/';
  }
  return { screen, path, query: new URLSearchParams(search), hash: location.hash };
}

/** Calls `render(route)` now and on every route change. */
export function start(render) {
  window.addEventListener('hashchange', () => render(current()));
  render(current());
}
