// Action buttons that can be unavailable with a reason. An unavailable button
// stays focusable (aria-disabled rather than disabled), so keyboard and
// screen-reader users reach it and hear why; the reason is also shown as
// text next to it. The API still checks every request: this only spares
// people a click that would be refused.

import { call } from './api.js';
import { h, uid } from './dom.js';

/**
 * A button running `onClick` (which may be async; the button is busy
 * meanwhile) unless it was made unavailable with `unavailable`.
 */
export function actionButton(label, onClick, { kind = '', name, small = false } = {}) {
  const button = h('button', {
    type: 'button',
    class: [kind, small ? 'small' : ''].filter(Boolean).join(' ') || null,
    'aria-label': name,
  }, label);
  button.addEventListener('click', async (event) => {
    if (button.getAttribute('aria-disabled') === 'true' || button.getAttribute('aria-busy') === 'true') {
      event.preventDefault();
      return;
    }
    button.setAttribute('aria-busy', 'true');
    try {
      await onClick(event);
    } finally {
      button.removeAttribute('aria-busy');
    }
  });
  return button;
}

/**
 * Makes `button` unavailable because of `reason`, written into `reasons`
 * (a container shown near the buttons). Buttons sharing a reason share its text.
 */
export function unavailable(button, reason, reasons) {
  button.setAttribute('aria-disabled', 'true');
  button.title = reason;
  let note = [...reasons.children].find((p) => p.textContent === reason);
  if (!note) {
    note = h('p', { id: uid('reason') }, reason);
    reasons.append(note);
  }
  button.setAttribute('aria-describedby', note.id);
  return button;
}

/** A container for the reasons of unavailable buttons. */
export function reasonsBox() {
  return h('div', { class: 'reasons' });
}

const KIND = { item: 'dynamic secret', target: 'target' };

/**
 * The caller's capabilities on `path` (`type` item or target), from
 * `describe-permissions`; null when they could not be learned (then nothing
 * is disabled and the API's answer decides).
 */
export async function permissionsOn(type, path) {
  try {
    const answer = await call('describe-permissions', { type, path });
    return new Set(answer.client_permissions ?? []);
  } catch (error) {
    if (error.status === 401) throw error;
    return null;
  }
}

/** Why a capability missing from `granted` makes an action unavailable, or null. */
export function missing(granted, capabilities, type, path) {
  if (!granted) return null;
  const lacking = capabilities.filter((c) => !granted.has(c));
  if (lacking.length === 0) return null;
  const what = lacking.map((c) => `‘${c}’`).join(' and ');
  return `Needs ${what} permission on the ${KIND[type] ?? type} ${path}, which your access key does not have.`;
}
