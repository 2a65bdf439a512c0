// Creating and editing an AWS target.

import { call } from '../api.js';
import { h } from '../dom.js';
import { setFlash } from '../flash.js';
import { Form } from '../form.js';
import { allKeys } from '../paging.js';
import { normalize } from '../paths.js';
import { go, href } from '../router.js';
import { FIELDS, GROUPS } from './target-fields.js';

export const create = {
  title: () => 'New target',
  render: async () => targetForm({ keys: await keyNames() }),
};

export const edit = {
  title: (route) => `Edit target ${route.path}`,
  async render(route) {
    const name = normalize(route.path);
    const [target, keys] = await Promise.all([call('target-get', { name }), keyNames()]);
    return targetForm({ original: name, target, keys });
  },
};

async function keyNames() {
  return allKeys().then((k) => k.keys).catch(() => []);
}

function targetForm({ original, target, keys }) {
  const context = { original, keyListId: 'target-protection-keys' };
  const values = {};
  if (target) for (const field of FIELDS) if (field.fromDetails) values[field.id] = field.fromDetails(target);
  const form = new Form({ fields: FIELDS, groups: GROUPS, context, values });
  const summary = h('div', {});
  const submit = h('button', { type: 'submit', class: 'primary' }, original ? 'Save' : 'Create target');
  const cancel = h('a', { class: 'button', href: original ? href('target', original) : href('targets') }, 'Cancel');
  const element = h('form', { novalidate: true, 'aria-labelledby': 'target-form-title' },
    summary, form.render(), h('div', { class: 'form-actions' }, submit, cancel),
    h('datalist', { id: context.keyListId }, keys.map((k) => h('option', { value: k }))));
  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    form.read();
    const missing = form.missingRequired();
    if (missing.length) {
      form.showErrors(missing, summary);
      return;
    }
    const body = form.request();
    submit.disabled = true;
    try {
      await call(original ? 'target-update-aws' : 'target-create-aws', body);
      const name = normalize(body['new-name'] || body.name);
      setFlash(original ? `Saved target ${name}.` : `Created target ${name}.`);
      go('target', name);
    } catch (error) {
      if (error.status !== 401) form.showApiError(error, summary);
    } finally {
      if (submit.isConnected) submit.disabled = false;
    }
  });
  return h('section', {},
    h('p', {}, h('a', { href: href('targets') }, '← Targets')),
    h('h1', { id: 'target-form-title' }, original ? `Edit target ${original}` : 'New target'),
    h('p', { class: 'subtitle' }, 'An AWS target holds the privileged credentials the gateway uses to create temporary users and assume roles.'),
    element);
}
