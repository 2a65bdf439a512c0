// Native modal <dialog>s: focus moves in and is trapped by the browser,
// Escape closes, and focus returns to the control that opened it. A dialog
// is removed from the document when it closes, taking its content with it.

import { h, uid } from './dom.js';

/**
 * Opens a modal titled `title` with `body` (nodes) and `actions` (buttons).
 * Returns `close()`, which removes the dialog and its content at once —
 * not on the asynchronous `close` event — so nothing it showed outlives it.
 * Escape closes it the same way. `onClose` runs once, after removal.
 */
export function openDialog({ title, body, actions = [], onClose, className }) {
  const titleId = uid('dialog-title');
  const opener = document.activeElement;
  const dialog = h('dialog', { 'aria-labelledby': titleId, class: className },
    h('h2', { id: titleId }, title),
    body,
    h('div', { class: 'form-actions' }, actions));
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close();
    dialog.remove();
    dialog.replaceChildren();
    onClose?.();
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
  };
  dialog.addEventListener('cancel', (event) => {
    event.preventDefault();
    close();
  });
  dialog.addEventListener('close', close);
  document.body.append(dialog);
  dialog.showModal();
  return { element: dialog, close };
}

/**
 * Asks to confirm a consequential action. Resolves true when confirmed;
 * `body` may hold extra controls (read them after it resolves).
 */
export function confirmDialog({ title, message, confirmLabel, danger = false, body = [] }) {
  return new Promise((resolve) => {
    let confirmed = false;
    const cancel = h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel');
    const confirm = h('button', {
      type: 'button',
      class: danger ? 'danger solid' : 'primary',
      onclick: () => { confirmed = true; dialog.close(); },
    }, confirmLabel);
    const dialog = openDialog({
      title,
      body: [h('p', {}, message), body],
      actions: [confirm, cancel],
      onClose: () => resolve(confirmed),
    });
    // The safe choice has the focus, so a stray Enter does nothing harmful.
    cancel.focus();
  });
}
