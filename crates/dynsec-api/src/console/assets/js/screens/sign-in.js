// Sign in with an API key (access id + access key → `auth`).

import { h } from '../dom.js';
import { Form } from '../form.js';
import { go } from '../router.js';
import * as session from '../session.js';

const FIELDS = [
  { id: 'access-id', label: 'Access ID', kind: 'text', group: 'key', required: true, autocomplete: 'username', hint: 'Starts with p-, e.g. p-1a2b3c4d5e6f.' },
  { id: 'access-key', label: 'Access Key', kind: 'password', group: 'key', required: true, autocomplete: 'current-password' },
];

export function title() {
  return 'Sign in';
}

export async function render(route, signal, { notice } = {}) {
  const form = new Form({ fields: FIELDS, groups: [{ id: 'key', legend: 'API key' }] });
  const summary = h('div', {});
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const element = h('form', { novalidate: true }, summary, form.render(), h('div', { class: 'form-actions' }, submit));
  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    form.read();
    const missing = form.missingRequired();
    if (missing.length) {
      form.showErrors(missing, summary);
      return;
    }
    submit.disabled = true;
    try {
      await session.signIn(form.values['access-id'].trim(), form.values['access-key']);
      const next = route.query.get('next');
      if (next && next.startsWith('#/') && !next.startsWith('#/sign-in')) location.hash = next;
      else go('items');
    } catch (error) {
      form.showApiError(error, summary);
    } finally {
      submit.disabled = false;
    }
  });
  return h('section', { class: 'panel narrow' },
    h('h1', {}, 'Sign in to dynsec'),
    h('p', { class: 'subtitle' }, 'Use an API key of this gateway. The token it gives stays in this tab only and ends with the session.'),
    notice && h('div', { class: 'alert info', role: 'status' }, h('p', {}, notice)),
    element);
}
