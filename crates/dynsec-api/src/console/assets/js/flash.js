// A one-line message carried to the next screen ("Created /prod/aws/x"),
// shown there once as a status.

import { h } from './dom.js';

let pending = null;

export function setFlash(message) {
  pending = message;
}

/** The pending message as a status box (and forgets it), or null. */
export function takeFlash() {
  const message = pending;
  pending = null;
  return message ? h('div', { class: 'alert ok', role: 'status' }, h('p', {}, message)) : null;
}
