// One AWS target: its settings, the dynamic secrets using it, Edit, Delete
// (optionally forced, deleting those secrets too), and Reveal admin key for
// callers holding `reveal`.

import { call } from '../api.js';
import { actionButton, missing, permissionsOn, reasonsBox, unavailable } from '../actions.js';
import { confirmDialog, openDialog } from '../dialog.js';
import { h } from '../dom.js';
import { alertBox } from '../errors.js';
import { setFlash, takeFlash } from '../flash.js';
import { normalize } from '../paths.js';
import { go, href } from '../router.js';
import { secretFieldList } from '../secret-fields.js';
import { formatTime } from '../time.js';
import { connectionOf } from './target-fields.js';

export function title(route) {
  return `Target ${normalize(route.path)}`;
}

export async function render(route) {
  const name = normalize(route.path);
  const [target, granted] = await Promise.all([
    call('target-get', { name }),
    permissionsOn('target', name),
  ]);
  const flash = takeFlash();
  const problems = h('div', {});
  const reasons = reasonsBox();
  const used = target.target_items_assoc ?? [];

  const reveal = actionButton('Reveal admin key', () => revealKey(name, problems));
  const editButton = actionButton('Edit', () => go('edit-target', name));
  const deleteButton = actionButton('Delete', () => remove(name, used, problems), { kind: 'danger' });
  const cantReveal = missing(granted, ['read', 'reveal'], 'target', name);
  if (cantReveal) unavailable(reveal, cantReveal, reasons);
  const cantUpdate = missing(granted, ['update'], 'target', name);
  if (cantUpdate) unavailable(editButton, cantUpdate, reasons);
  const cantDelete = missing(granted, ['delete'], 'target', name);
  if (cantDelete) unavailable(deleteButton, cantDelete, reasons);
  else if (target.delete_protection) {
    unavailable(deleteButton, 'Delete Protection is on: turn it off with Edit before deleting.', reasons);
  }

  const connection = connectionOf(target);
  const rows = [
    ['Type', 'AWS'],
    ['Access Key ID', h('code', {}, connection.accessKeyId || '—')],
    ['Region', connection.region || '—'],
    ['Description', target.comment || '—'],
    ['Protection key', target.protection_key_name || 'None (the gateway’s master key)'],
    ['Delete Protection', target.delete_protection ? 'On' : 'Off'],
    ['Created', target.creation_date ? formatTime(target.creation_date) : '—'],
    ['Modified', target.modification_date ? formatTime(target.modification_date) : '—'],
  ];
  return h('section', {},
    flash,
    h('p', {}, h('a', { href: href('targets') }, '← Targets')),
    h('h1', {}, name),
    h('p', { class: 'subtitle' }, 'AWS target'),
    problems,
    h('div', { class: 'toolbar' }, reveal, editButton, deleteButton),
    reasons,
    h('h2', {}, 'Settings'),
    h('dl', { class: 'settings' }, rows.flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value)])),
    h('h2', {}, 'Used by'),
    used.length
      ? h('ul', {}, used.map((u) => h('li', {}, h('a', { href: href('dynamic-secret', u.item_name) }, u.item_name))))
      : h('p', { class: 'empty' }, 'No dynamic secret you may list uses this target.'));
}

async function revealKey(name, problems) {
  problems.replaceChildren();
  let details;
  try {
    details = await call('target-get-details', { name });
  } catch (error) {
    if (error.status !== 401) problems.replaceChildren(alertBox(error));
    return;
  }
  const aws = details.value?.aws_target_details ?? {};
  const close = h('button', { type: 'button', class: 'primary', onclick: () => dialog.close() }, 'Close');
  const dialog = openDialog({
    title: `Admin key of ${name}`,
    body: [
      h('div', { class: 'alert warn', role: 'note' }, h('p', {}, 'This is the privileged key the gateway acts with. Reveal it only to rotate or audit it; closing this window removes it from the page.')),
      secretFieldList([
        { label: 'Access Key ID', text: aws.aws_access_key_id },
        { label: 'Secret Access Key', text: aws.aws_secret_access_key, secret: true },
        { label: 'Session Token', text: aws.aws_session_token, secret: true },
        { label: 'Region', text: aws.aws_region },
      ]),
    ],
    actions: [close],
    onClose: () => { for (const key of Object.keys(aws)) delete aws[key]; },
  });
  close.focus();
}

async function remove(name, used, problems) {
  const force = h('input', { type: 'checkbox', id: 'force-deletion' });
  const body = used.length
    ? h('div', { class: 'field checkbox' }, force,
      h('label', { for: 'force-deletion' }, `Also delete the ${used.length} dynamic secret${used.length === 1 ? '' : 's'} using it`),
      h('p', { class: 'hint' }, 'Their IAM-user credentials are revoked first. Without this, a target in use is not deleted.'))
    : [];
  const ok = await confirmDialog({
    title: 'Delete this target?',
    message: `${name} is deleted. This cannot be undone.`,
    confirmLabel: 'Delete',
    danger: true,
    body,
  });
  if (!ok) return;
  try {
    await call('target-delete', { name, 'force-deletion': force.checked });
    setFlash(`Deleted target ${name}.`);
    go('targets');
  } catch (error) {
    if (error.status !== 401) problems.replaceChildren(alertBox(error));
  }
}
