// Boot: wires the API client to the session, and renders the screen the
// route names. Each screen renders into a detached container that replaces
// the page only if the route is still current, so a slow answer can never
// paint over a newer screen; its timers stop when the route changes.

import { configure } from './api.js';
import { h } from './dom.js';
import { alertBox } from './errors.js';
import { renderHeader } from './header.js';
import { current as currentRoute, go, start } from './router.js';
import * as session from './session.js';
import * as signIn from './screens/sign-in.js';
import * as items from './screens/items.js';
import * as secret from './screens/secret.js';
import * as wizard from './screens/wizard.js';
import * as targets from './screens/targets.js';
import * as target from './screens/target.js';
import * as targetForm from './screens/target-form.js';

/** Screen name → module with `title(route)` and `render(route, signal)`. */
const SCREENS = {
  'sign-in': signIn,
  items,
  'dynamic-secret': secret,
  'new-dynamic-secret': wizard.create,
  'edit-dynamic-secret': wizard.edit,
  targets,
  target,
  'new-target': targetForm.create,
  'edit-target': targetForm.edit,
};

const main = document.getElementById('main');
let generation = 0;
let running = null;
/** Why the user was sent to sign in (shown there once). */
let signInNotice = null;

function signedOut(message) {
  session.forget();
  signInNotice = message;
  const route = currentRoute();
  if (route.screen !== 'sign-in') go('sign-in', '', { next: route.hash });
}

configure({
  token: session.token,
  signedOut: () => signedOut('Your session is no longer valid. Sign in again to continue.'),
});

async function render(route) {
  generation += 1;
  const mine = generation;
  running?.abort();
  running = new AbortController();
  const { signal } = running;

  const who = session.current();
  if (!who && route.screen !== 'sign-in') {
    go('sign-in', '', route.screen ? { next: route.hash } : undefined);
    return;
  }
  if (who && (route.screen === '' || route.screen === 'sign-in')) {
    go('items');
    return;
  }
  const screen = SCREENS[route.screen];
  renderHeader(who, route.screen, {
    signOut: () => {
      session.forget();
      signInNotice = 'You signed out.';
      go('sign-in');
    },
    expired: () => signedOut('Your session ended. Sign in again to continue.'),
  });
  let content;
  if (!screen) {
    content = notFound();
  } else {
    try {
      const notice = route.screen === 'sign-in' ? signInNotice : null;
      signInNotice = null;
      content = await screen.render(route, signal, { notice });
    } catch (error) {
      if (error?.status === 401) return; // already on its way to sign-in
      content = failed(error);
    }
  }
  if (mine !== generation) return;
  document.title = `${screen?.title?.(route) ?? 'Not found'} · dynsec`;
  main.replaceChildren(content);
  // Moving focus to the new heading tells screen readers the page changed.
  const heading = main.querySelector('h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
}

/** A screen whose first request failed: its heading and the reason, never a blank page. */
function failed(error) {
  return h('section', {},
    h('h1', {}, 'This page could not be shown'),
    alertBox(error),
    h('p', {}, h('a', { href: '#/items/' }, 'Back to Secrets & Keys')));
}

function notFound() {
  return h('section', {},
    h('h1', {}, 'No such page'),
    h('p', {}, 'The address does not name a console page.'),
    h('p', {}, h('a', { href: '#/items/' }, 'Go to Secrets & Keys')));
}

document.getElementById('skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

// A reloaded tab re-checks its token before showing anything.
session.revalidate().finally(() => start(render));
