// Secrets & Keys: one virtual folder — its sub-folders and items
// (`list-items`), a breadcrumb, a filter, paging, and the New menu.

import { h, announce } from '../dom.js';
import { alertBox } from '../errors.js';
import { breadcrumb } from '../breadcrumb.js';
import { takeFlash } from '../flash.js';
import { menuButton } from '../menu.js';
import { listPage } from '../paging.js';
import { leafOf, normalize } from '../paths.js';
import { href } from '../router.js';
import { formatTime } from '../time.js';

export function title(route) {
  return route.path === '/' ? 'Secrets & Keys' : `${route.path} · Secrets & Keys`;
}

export async function render(route, signal) {
  const folder = normalize(route.path);
  const listing = new Listing(folder, signal);
  const filter = h('input', { type: 'search', id: 'items-filter', autocomplete: 'off', spellcheck: 'false' });
  let debounce = null;
  filter.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => listing.load(filter.value.trim()), 250);
  });
  filter.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') {
      event.preventDefault();
      clearTimeout(debounce);
      listing.load(filter.value.trim());
    }
  });
  const flash = takeFlash();
  await listing.load('');
  return h('section', {},
    flash,
    breadcrumb(folder),
    h('h1', {}, folder === '/' ? 'Secrets & Keys' : leafOf(folder)),
    h('p', { class: 'subtitle' }, folder === '/' ? 'Every folder and item you may list.' : `Folder ${folder}`),
    h('div', { class: 'toolbar' },
      h('div', { class: 'inline-field' },
        h('label', { for: 'items-filter' }, 'Filter by name'),
        filter),
      h('div', { class: 'spacer' }),
      menuButton('New', [
        { label: 'Dynamic Secret', href: href('new-dynamic-secret', '', { location: folder }) },
      ])),
    listing.element);
}

/** The table of one folder, loaded page by page. */
class Listing {
  constructor(folder, signal) {
    this.folder = folder;
    this.signal = signal;
    this.element = h('div', { class: 'table-wrap' });
  }

  async load(filter) {
    this.filter = filter;
    this.folders = new Set();
    this.rows = h('tbody', {});
    this.more = h('div', { class: 'toolbar' });
    this.count = 0;
    const generation = (this.generation ?? 0) + 1;
    this.generation = generation;
    try {
      const page = await listPage({ path: this.folder, filter });
      if (generation !== this.generation || this.signal.aborted) return;
      this.element.replaceChildren(
        h('table', { 'aria-label': `Contents of ${this.folder}` },
          h('thead', {}, h('tr', {}, ['Name', 'Type', 'Details', 'Modified'].map((c) => h('th', { scope: 'col' }, c)))),
          this.rows),
        this.more);
      this.add(page);
      if (this.count === 0) {
        this.element.replaceChildren(h('p', { class: 'empty' }, filter
          ? `Nothing in ${this.folder} matches “${filter}”.`
          : `${this.folder} holds nothing you may list. Create a dynamic secret with New.`));
      }
      if (filter) announce(`${this.count} result${this.count === 1 ? '' : 's'}`);
    } catch (error) {
      // A 401 has already sent the tab to sign in.
      if (error.status === 401) return;
      this.element.replaceChildren(alertBox(error, { retry: () => this.load(filter) }));
    }
  }

  /** Appends a page's rows; offers the next page when there is one. */
  add(page) {
    for (const folder of page.folders) {
      if (this.folders.has(folder)) continue;
      this.folders.add(folder);
      this.count += 1;
      this.rows.append(h('tr', {},
        h('td', {}, h('a', { href: href('items', folder) }, h('span', { 'aria-hidden': 'true' }, '📁 '), `${leafOf(folder)}/`)),
        h('td', {}, 'Folder'), h('td', {}), h('td', {})));
    }
    for (const item of page.items) {
      this.count += 1;
      this.rows.append(itemRow(item));
    }
    this.more.replaceChildren();
    if (page.next) {
      const button = h('button', { type: 'button' }, 'Load more');
      button.addEventListener('click', async () => {
        button.disabled = true;
        try {
          const next = await listPage({ path: this.folder, filter: this.filter, token: page.next });
          this.add(next);
        } catch (error) {
          if (error.status === 401) return;
          this.more.replaceChildren(alertBox(error));
        }
      });
      this.more.append(button);
    }
  }
}

function itemRow(item) {
  const isDynamic = item.item_type === 'DYNAMIC_SECRET';
  const producer = item.item_general_info?.dynamic_secret_producer_details ?? {};
  const target = item.item_targets_assoc?.[0]?.target_name;
  const details = isDynamic
    ? [`TTL ${producer.user_ttl ?? '—'}`, target ? `target ${target}` : 'own target properties'].join(' · ')
    : [`split level ${item.split_level ?? 1}`, item.with_customer_fragment ? 'with customer fragment' : null].filter(Boolean).join(' · ');
  const name = leafOf(item.item_name);
  return h('tr', {},
    h('td', {}, isDynamic ? h('a', { href: href('dynamic-secret', item.item_name) }, name) : name),
    h('td', {}, isDynamic ? 'Dynamic secret (AWS)' : 'Protection key'),
    h('td', {}, details),
    h('td', {}, item.modification_date ? formatTime(item.modification_date) : ''));
}
