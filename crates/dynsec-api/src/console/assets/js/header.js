// The top bar: the main navigation, who is signed in, when the session
// ends (a live countdown), and Sign out.

import { h, replace } from './dom.js';
import { formatTime, formatRemaining } from './time.js';

let sessionTimer = null;

/** Shows the bar for `session` (null: signed out) with the `screen` marked current. */
export function renderHeader(session, screen, { signOut, expired }) {
  const nav = document.getElementById('nav');
  const area = document.getElementById('session');
  clearInterval(sessionTimer);
  nav.hidden = !session;
  area.hidden = !session;
  const section = { items: 'items', 'dynamic-secret': 'items', 'new-dynamic-secret': 'items', 'edit-dynamic-secret': 'items', targets: 'targets', target: 'targets', 'new-target': 'targets', 'edit-target': 'targets' }[screen];
  for (const link of nav.querySelectorAll('a[data-screen]')) {
    if (link.dataset.screen === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!session) {
    area.replaceChildren();
    return;
  }
  const remaining = h('span', { class: 'countdown' });
  const update = () => {
    const left = formatRemaining(session.expiration);
    remaining.textContent = left === 'expired' ? 'now' : `in ${left}`;
    if (left === 'expired') {
      clearInterval(sessionTimer);
      expired();
    }
  };
  replace(area,
    h('span', {}, 'Signed in as ', h('strong', { id: 'signed-in-as' }, session.name),
      session.name !== session.accessId ? h('span', {}, ' (', h('code', {}, session.accessId), ')') : null),
    h('span', { id: 'session-ends' }, 'Session ends ',
      h('time', { datetime: session.expiration }, formatTime(session.expiration)), ' (', remaining, ')'),
    h('button', { type: 'button', class: 'small', onclick: signOut }, 'Sign out'));
  update();
  sessionTimer = setInterval(update, 1000);
}
