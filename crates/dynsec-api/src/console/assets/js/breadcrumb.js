// The folder trail above a listing or an item: each ancestor is a link.

import { h } from './dom.js';
import { href } from './router.js';
import { segments } from './paths.js';

/** Breadcrumb for `path`; `lastIsCurrent` marks the final entry as this page. */
export function breadcrumb(path, { lastIsCurrent = true } = {}) {
  const parts = segments(path);
  const crumbs = [{ label: 'Secrets & Keys', folder: '/' }];
  parts.forEach((part, i) => crumbs.push({ label: part, folder: `/${parts.slice(0, i + 1).join('/')}` }));
  return h('nav', { class: 'breadcrumb', 'aria-label': 'Breadcrumb' },
    h('ol', {}, crumbs.map((crumb, i) => {
      const last = i === crumbs.length - 1;
      return h('li', {}, last && lastIsCurrent
        ? h('span', { 'aria-current': 'page' }, crumb.label)
        : h('a', { href: href('items', crumb.folder) }, crumb.label));
    })));
}
