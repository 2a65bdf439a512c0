// A dynamic secret's page: its settings, Get Dynamic Secret (with a role
// picker when it has several role ARNs), Edit and Delete, and its live
// credentials below.

import { call } from '../api.js';
import { actionButton, missing, permissionsOn, reasonsBox, unavailable } from '../actions.js';
import { breadcrumb } from '../breadcrumb.js';
import { confirmDialog } from '../dialog.js';
import { h } from '../dom.js';
import { alertBox } from '../errors.js';
import { setFlash, takeFlash } from '../flash.js';
import { leafOf, normalize, parentOf } from '../paths.js';
import { go, href } from '../router.js';
import { formatTime } from '../time.js';
import { showIssuedValue } from './issued-value.js';
import { leasesSection } from './leases.js';

export function title(route) {
  return normalize(route.path);
}

const MODE_LABELS = {
  iam_user: 'IAM User',
  assumed_role: 'Assume Role',
  federation_token: 'Federation Token',
  session_token: 'Session Token',
};

const list = (text) => String(text ?? '').split(',').map((s) => s.trim()).filter(Boolean);

export async function render(route, signal) {
  const name = normalize(route.path);
  const [details, granted] = await Promise.all([
    call('dynamic-secret-get', { name }),
    permissionsOn('item', name),
  ]);
  const assumed = details.aws_access_mode === 'assumed_role';
  const roles = list(details.aws_role_arns);
  const flash = takeFlash();
  const problems = h('div', {});
  const reasons = reasonsBox();
  const leases = leasesSection({ name, granted, signal, earlyRevocation: assumed && details.early_revocation === true });

  let rolePicker = null;
  if (assumed && roles.length > 1) {
    rolePicker = h('select', { id: 'role-picker' }, roles.map((arn) => h('option', { value: arn }, arn)));
  }

  // session_token with an MFA device: the code it shows now goes along.
  const mfaCode = details.aws_access_mode === 'session_token' && details.mfa_serial
    ? h('input', { id: 'mfa-code', type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code' })
    : null;

  const getValue = actionButton('Get Dynamic Secret', async () => {
    problems.replaceChildren();
    try {
      const args = rolePicker ? [`role-arn=${rolePicker.value}`] : [];
      if (mfaCode?.value.trim()) args.push(`mfa-code=${mfaCode.value.trim()}`);
      const value = await call('get-dynamic-secret-value', { name, args });
      showIssuedValue(value, { name });
      leases.refresh();
    } catch (error) {
      if (error.status !== 401) problems.replaceChildren(alertBox(error));
    }
  }, { kind: 'primary' });
  const editButton = actionButton('Edit', () => go('edit-dynamic-secret', name));
  const deleteButton = actionButton('Delete', () => remove(name, problems), { kind: 'danger' });

  const cantRead = missing(granted, ['read'], 'item', name);
  if (cantRead) unavailable(getValue, cantRead, reasons);
  const cantUpdate = missing(granted, ['update'], 'item', name);
  if (cantUpdate) unavailable(editButton, cantUpdate, reasons);
  const cantDelete = missing(granted, ['delete'], 'item', name);
  if (cantDelete) unavailable(deleteButton, cantDelete, reasons);
  else if (details.delete_protection) {
    unavailable(deleteButton, 'Delete Protection is on: turn it off with Edit before deleting.', reasons);
  }

  await leases.refresh();
  return h('section', {},
    flash,
    breadcrumb(name),
    h('h1', {}, leafOf(name)),
    h('p', { class: 'subtitle' }, 'AWS dynamic secret · ', MODE_LABELS[details.aws_access_mode] ?? 'IAM User', ' · ', h('code', {}, name)),
    problems,
    h('div', { class: 'toolbar' },
      rolePicker && h('div', { class: 'inline-field' }, h('label', { for: 'role-picker' }, 'Role ARN'), rolePicker),
      mfaCode && h('div', { class: 'inline-field' }, h('label', { for: 'mfa-code' }, 'MFA code'), mfaCode),
      getValue, editButton, deleteButton),
    reasons,
    h('h2', {}, 'Settings'),
    settings(details),
    leases.element);
}

function settings(d) {
  const assumed = d.aws_access_mode === 'assumed_role';
  const iamUser = !d.aws_access_mode || d.aws_access_mode === 'iam_user';
  const target = d.item_targets_assoc?.[0]?.target_name;
  const yesNo = (b) => (b ? 'Yes' : 'No');
  const rows = [
    ['Access Mode', `${MODE_LABELS[d.aws_access_mode] ?? 'IAM User'} (${d.aws_access_mode || 'iam_user'})`],
    ['Target', target
      ? h('a', { href: href('target', target) }, target)
      : ['Explicit target properties: access key ', h('code', {}, d.aws_access_key_id || '—'), `, region ${d.aws_region || '—'}`]],
    (iamUser || d.aws_access_mode === 'federation_token') && ['Policies', codeList(d.aws_user_policies)],
    d.session_policy && ['Session policy', h('code', {}, d.session_policy)],
    d.mfa_serial && ['MFA device', h('code', {}, d.mfa_serial)],
    iamUser && ['Groups', codeList(d.aws_user_groups)],
    assumed && ['Role ARNs', codeList(d.aws_role_arns)],
    iamUser && ['User Programmatic Access', yesNo(d.aws_user_programmatic_access)],
    iamUser && ['User Console Access', d.aws_user_console_access
      ? `Yes (password of ${d.password_length} characters)` : 'No'],
    assumed && d.aws_external_id && ['External ID', h('code', {}, d.aws_external_id)],
    assumed && ['Early revocation', d.early_revocation
      ? 'On: revoking denies the session through the role’s inline policy'
      : 'Off: sessions only expire'],
    assumed && d.aws_session_tags && ['Session tags', h('code', {}, d.aws_session_tags)],
    assumed && d.aws_transitive_tag_keys && ['Transitive tag keys', h('code', {}, d.aws_transitive_tag_keys)],
    ['User TTL', d.user_ttl],
    ['Protection key', d.producer_encryption_key_name || 'None (the gateway’s master key)'],
    ['Delete Protection', d.delete_protection ? 'On' : 'Off'],
    d.description && ['Description', d.description],
    ['Created', d.creation_date ? formatTime(d.creation_date) : '—'],
    ['Modified', d.modification_date ? formatTime(d.modification_date) : '—'],
  ].filter(Boolean);
  return h('dl', { class: 'settings' }, rows.flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]));
}

function codeList(text) {
  const entries = list(text);
  if (entries.length === 0) return 'None';
  return entries.flatMap((entry, i) => [i ? ', ' : null, h('code', {}, entry)]);
}

async function remove(name, problems) {
  const ok = await confirmDialog({
    title: 'Delete this dynamic secret?',
    message: `${name} is deleted after all its IAM-user credentials are revoked; assumed-role sessions expire on their own. This cannot be undone.`,
    confirmLabel: 'Delete',
    danger: true,
  });
  if (!ok) return;
  try {
    await call('dynamic-secret-delete', { name });
    setFlash(`Deleted ${name}.`);
    go('items', parentOf(name));
  } catch (error) {
    if (error.status !== 401) problems.replaceChildren(alertBox(error));
  }
}
