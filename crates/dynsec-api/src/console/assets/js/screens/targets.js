// Targets: the AWS admin connections dynamic secrets use (`target-list`).

import { allPages } from '../paging.js';
import { h, announce } from '../dom.js';
import { alertBox } from '../errors.js';
import { takeFlash } from '../flash.js';
import { href } from '../router.js';
import { connectionOf } from './target-fields.js';

export function title() {
  return 'Targets';
}

export async function render() {
  const flash = takeFlash();
  const table = h('div', { class: 'table-wrap' });
  const filter = h('input', { type: 'search', id: 'targets-filter', autocomplete: 'off', spellcheck: 'false' });
  let generation = 0;
  const load = async (text) => {
    generation += 1;
    const mine = generation;
    try {
      const targets = await allPages('target-list', { type: ['aws'], filter: text }, 'targets');
      if (mine !== generation) return;
      paint(table, targets, text);
      if (text) announce(`${targets.length} targets match`);
    } catch (error) {
      if (error.status !== 401) table.replaceChildren(alertBox(error, { retry: () => load(text) }));
    }
  };
  let debounce = null;
  filter.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => load(filter.value.trim()), 250);
  });
  await load('');
  return h('section', {},
    flash,
    h('h1', {}, 'Targets'),
    h('p', { class: 'subtitle' }, 'The AWS accounts this gateway acts in, each with the privileged key it uses. Dynamic secrets name a target, or carry their own target properties.'),
    h('div', { class: 'toolbar' },
      h('div', { class: 'inline-field' }, h('label', { for: 'targets-filter' }, 'Filter by name'), filter),
      h('div', { class: 'spacer' }),
      h('a', { class: 'button primary', href: href('new-target') }, 'New target')),
    table);
}

function paint(host, targets, filter) {
  if (targets.length === 0) {
    host.replaceChildren(h('p', { class: 'empty' }, filter
      ? `No target you may list matches “${filter}”.`
      : 'No target you may list. Create one with New target.'));
    return;
  }
  host.replaceChildren(h('table', { 'aria-label': 'AWS targets' },
    h('thead', {}, h('tr', {}, ['Name', 'Access key ID', 'Region', 'Description', 'Used by'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, targets.map((t) => {
      const connection = connectionOf(t);
      const used = t.target_items_assoc?.length ?? 0;
      return h('tr', {},
        h('td', {}, h('a', { href: href('target', t.target_name) }, t.target_name)),
        h('td', {}, h('code', {}, connection.accessKeyId || '—')),
        h('td', {}, connection.region || '—'),
        h('td', {}, t.comment || ''),
        h('td', {}, used ? `${used} dynamic secret${used === 1 ? '' : 's'}` : 'nothing'));
    }))));
}
