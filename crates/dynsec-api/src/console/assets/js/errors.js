// Turning the API's errors into something an operator can act on. The API's
// messages already name the field ("invalid user-ttl: ...", "missing
// required field 'name'"), so forms can put them on that field.

import { h, focusLink } from './dom.js';

/** What kind of failure a status is, as a heading a person understands. */
function titleFor(status) {
  switch (status) {
    case 0: return 'Cannot reach the gateway';
    case 400: return 'The gateway refused this request';
    case 401: return 'Not signed in';
    case 403: return 'Not allowed';
    case 404: return 'Not found';
    case 409: return 'Not possible right now';
    case 429: return 'Too many attempts';
    case 502: return 'AWS refused the gateway';
    case 503: return 'Not finished yet';
    default: return status >= 500 ? 'The gateway failed' : 'Something went wrong';
  }
}

/** Extra advice for statuses whose message alone may not say what to do. */
function adviceFor(status) {
  switch (status) {
    case 403: return 'Your access key’s roles do not grant this. Ask an administrator if you need it.';
    case 409: return 'Nothing was changed. Resolve the conflict and try again.';
    case 503: return 'The gateway keeps retrying on its own; refresh in a moment to see the outcome.';
    default: return null;
  }
}

/** The API field an error message names, if any. */
export function fieldOf(message) {
  const patterns = [
    /missing required field '([a-z0-9_-]+)'/i,
    /^invalid ([a-z0-9_-]+):/i,
    /^invalid ([a-z0-9_-]+)\b/i,
  ];
  for (const pattern of patterns) {
    const match = pattern.exec(message ?? '');
    if (match && match[1] !== 'request') return match[1].toLowerCase();
  }
  return null;
}

/** An alert box for `error` (an ApiError or any Error). */
export function alertBox(error, { title, retry } = {}) {
  const status = error?.status ?? -1;
  const advice = adviceFor(status);
  const box = h('div', { class: `alert ${status === 503 ? 'warn' : 'error'}`, role: 'alert', tabindex: '-1' },
    h('h2', {}, title ?? titleFor(status)),
    h('p', {}, error?.message ?? String(error)),
    advice && h('p', {}, advice),
    retry && h('p', {}, h('button', { type: 'button', onclick: retry }, 'Try again')));
  return box;
}

/**
 * The error summary at the top of a form: one link per field error (moving
 * focus to the field), plus any error no field owns.
 */
export function errorSummary(fieldErrors, general) {
  const items = fieldErrors.map(({ inputId, label, message }) =>
    h('li', {}, focusLink(inputId, `${label}: ${message}`)));
  return h('div', { class: 'alert error', role: 'alert', tabindex: '-1', 'aria-labelledby': 'error-summary-title' },
    h('h2', { id: 'error-summary-title' }, general ? titleFor(general.status ?? -1) : 'There is a problem'),
    general && h('p', {}, general.message),
    general && adviceFor(general.status) && h('p', {}, adviceFor(general.status)),
    items.length > 0 && h('ul', {}, items));
}

/** The reason part of "invalid <field>: <reason>", for showing under the field. */
export function reasonOf(message, field) {
  const prefix = new RegExp(`^invalid ${field.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\s*`, 'i');
  return message.replace(prefix, '');
}
