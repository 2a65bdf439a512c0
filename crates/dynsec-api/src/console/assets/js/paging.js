// Listings page by page. The gateway answers one page at a time (its page
// size, `--list-page-size`); while an answer carries `next_page`
// (Akeyless's paging), the next page is asked for with `pagination-token`.

import { call } from './api.js';

/** One page of folder `path`: { items, folders, next } (`next`: token or null). */
export async function listPage({ path, filter = '', types = ['all'], token = null }) {
  const body = { path, type: types, filter };
  if (token) body['pagination-token'] = token;
  const answer = await call('list-items', body);
  return {
    items: answer.items ?? [],
    folders: answer.folders ?? [],
    next: answer.next_page || null,
  };
}

/**
 * Every protection key the caller may list, walking folders breadth-first;
 * stops after `budget` requests (then `complete` is false).
 */
export async function allKeys(budget = 25) {
  const keys = [];
  const queue = ['/'];
  const seen = new Set(queue);
  let requests = 0;
  while (queue.length > 0 && requests < budget) {
    const path = queue.shift();
    let token = null;
    do {
      requests += 1;
      const page = await listPage({ path, types: ['key'], token });
      keys.push(...page.items.map((item) => item.item_name));
      for (const folder of page.folders) {
        if (!seen.has(folder)) {
          seen.add(folder);
          queue.push(folder);
        }
      }
      token = page.next;
    } while (token && requests < budget);
  }
  return { keys: keys.sort(), complete: queue.length === 0 };
}

/**
 * Every entry of listing `op` (`key` names the answer's list), following
 * `next_page`; stops after `budget` requests.
 */
export async function allPages(op, body, key, budget = 50) {
  const entries = [];
  let token = null;
  let requests = 0;
  do {
    const answer = await call(op, token ? { ...body, 'pagination-token': token } : body);
    entries.push(...(answer[key] ?? []));
    token = answer.next_page || null;
    requests += 1;
  } while (token && requests < budget);
  return entries;
}
