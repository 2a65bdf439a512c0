// A list of values to copy — masked until revealed when secret — as the
// result of Get Dynamic Secret and a target's revealed admin key show them.

import { announce, h } from './dom.js';

const MASK = '••••••••••••••••';

/** Copies `text`; where the clipboard is unavailable, selects `element` for Ctrl+C. */
export async function copyText(text, label, element) {
  try {
    await navigator.clipboard.writeText(text);
    announce(`${label} copied`);
    return true;
  } catch {
    window.getSelection()?.selectAllChildren(element);
    announce(`Copying is not available here; ${label} is selected, press Ctrl+C`);
    return false;
  }
}

/** `entries`: [{ label, text, secret }]; empty texts are skipped. */
export function secretFieldList(entries) {
  const rows = [];
  for (const { label, text, secret } of entries) {
    if (typeof text !== 'string' || text === '') continue;
    const shown = h('dd', {});
    let revealed = !secret;
    const paint = () => {
      if (revealed) shown.replaceChildren(text);
      else shown.replaceChildren(h('span', { 'aria-hidden': 'true' }, MASK), h('span', { class: 'visually-hidden' }, 'hidden'));
    };
    paint();
    const copyButton = h('button', { type: 'button', class: 'small', 'aria-label': `Copy ${label}` }, 'Copy');
    copyButton.addEventListener('click', async () => {
      if (!revealed && !navigator.clipboard) {
        revealed = true;
        paint();
      }
      if (await copyText(text, label, shown)) {
        copyButton.textContent = 'Copied';
        setTimeout(() => { copyButton.textContent = 'Copy'; }, 1500);
      }
    });
    const actions = [copyButton];
    if (secret) {
      const reveal = h('button', { type: 'button', class: 'small', 'aria-pressed': 'false', 'aria-label': `Reveal ${label}` }, 'Reveal');
      reveal.addEventListener('click', () => {
        revealed = !revealed;
        reveal.setAttribute('aria-pressed', String(revealed));
        reveal.textContent = revealed ? 'Hide' : 'Reveal';
        paint();
      });
      actions.unshift(reveal);
    }
    rows.push(h('dt', {}, label), shown, h('div', { class: 'field-actions' }, actions));
  }
  return h('dl', { class: 'secret-fields' }, rows);
}
