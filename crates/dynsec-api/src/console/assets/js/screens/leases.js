// A dynamic secret's live credentials (`tmp-creds`): state, expiry,
// attempts, last error — with Extend and Revoke per credential, a retry for
// failed revocations, and Revoke all.

import { call } from '../api.js';
import { actionButton, missing, reasonsBox, unavailable } from '../actions.js';
import { confirmDialog, openDialog } from '../dialog.js';
import { h } from '../dom.js';
import { alertBox } from '../errors.js';
import { Form } from '../form.js';
import { countdown, formatTime, timeElement } from '../time.js';

const NO_EARLY_END = 'AWS cannot end an assumed-role session before it expires; it ends on its own at its expiry. Turn on Early revocation (Edit) to deny sessions through the role’s policy.';
const FIXED_DURATION = 'An assumed-role session keeps the duration AWS granted it.';

/**
 * The section for dynamic secret `name`; `granted`: the caller's capabilities
 * on it; `earlyRevocation`: its assumed-role sessions can be revoked.
 */
export function leasesSection({ name, granted, signal, earlyRevocation = false }) {
  const status = h('div', {});
  const table = h('div', { class: 'table-wrap' });
  const reasons = reasonsBox();
  const count = h('span', { class: 'badge' }, '…');
  const refreshButton = actionButton('Refresh', () => refresh(), { name: 'Refresh live credentials' });
  const revokeAll = actionButton('Revoke all', () => revokeEverything(), { kind: 'danger' });
  const cantUpdate = missing(granted, ['update'], 'item', name);
  let leases = [];
  let rowTimers = null;

  async function refresh() {
    try {
      leases = await call('dynamic-secret-tmp-creds-get', { name });
    } catch (error) {
      if (error.status === 401) return;
      status.replaceChildren(alertBox(error, { retry: refresh }));
      return;
    }
    paint();
  }

  function paint() {
    rowTimers?.abort();
    rowTimers = new AbortController();
    signal.addEventListener('abort', () => rowTimers.abort(), { once: true });
    reasons.replaceChildren();
    revokeAll.removeAttribute('aria-disabled');
    revokeAll.removeAttribute('aria-describedby');
    revokeAll.title = '';
    count.textContent = String(leases.length);
    const revocable = leases.filter((l) => (l.access_mode === 'iam_user' || (earlyRevocation && l.access_mode === 'assumed_role')) && l.state !== 'pending');
    if (cantUpdate) unavailable(revokeAll, cantUpdate, reasons);
    else if (revocable.length === 0) {
      unavailable(revokeAll, earlyRevocation ? 'There is no credential to revoke.' : 'There is no IAM-user credential to revoke.', reasons);
    }
    if (leases.length === 0) {
      table.replaceChildren(h('p', { class: 'empty' }, 'No live credentials. Get Dynamic Secret issues one.'));
      return;
    }
    table.replaceChildren(h('table', { 'aria-label': 'Live credentials' },
      h('thead', {}, h('tr', {}, ['Credential', 'User or role', 'State', 'Issued', 'Expires', 'Attempts', 'Last error', 'Actions']
        .map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, leases.map((lease) => row(lease)))));
  }

  function row(lease) {
    const assumed = lease.access_mode === 'assumed_role';
    const stsToken = lease.access_mode === 'federation_token' || lease.access_mode === 'session_token';
    const extend = actionButton('Extend', () => extendLease(lease), { small: true, name: `Extend ${lease.id}` });
    const revoke = actionButton(lease.state === 'failed' ? 'Retry revocation' : 'Revoke', () => revokeLease(lease),
      { small: true, kind: 'danger', name: `${lease.state === 'failed' ? 'Retry revocation of' : 'Revoke'} ${lease.id}` });
    if (cantUpdate) {
      unavailable(extend, cantUpdate, reasons);
      unavailable(revoke, cantUpdate, reasons);
    } else if (stsToken) {
      unavailable(extend, 'An STS session keeps the duration AWS granted it.', reasons);
      unavailable(revoke, 'AWS cannot end a federation or session token before it expires; it ends on its own at its expiry.', reasons);
    } else if (assumed) {
      unavailable(extend, FIXED_DURATION, reasons);
      if (!earlyRevocation) unavailable(revoke, NO_EARLY_END, reasons);
    } else if (lease.state === 'pending') {
      unavailable(extend, 'A credential still being issued cannot change yet.', reasons);
      unavailable(revoke, 'A credential still being issued cannot be revoked yet; try again in a moment.', reasons);
    } else if (lease.state !== 'active') {
      unavailable(extend, 'Only an active credential can be extended.', reasons);
    }
    const principal = assumed ? lease.role_arn : lease.user_name;
    return h('tr', { 'data-lease': lease.id },
      h('td', {}, h('code', {}, lease.id)),
      h('td', {}, h('code', {}, principal || '—')),
      h('td', {}, h('span', { class: `badge ${lease.state}` }, lease.state),
        lease.state === 'failed' && lease.next_attempt ? h('div', { class: 'hint' }, 'next try ', formatTime(lease.next_attempt)) : null),
      h('td', {}, lease.creation_date ? timeElement(lease.creation_date) : '—'),
      h('td', {}, lease.expiration ? [timeElement(lease.expiration), ' (', countdown(lease.expiration, rowTimers.signal), ')'] : '—'),
      h('td', {}, String(lease.attempts ?? 0)),
      h('td', {}, lease.last_error || '—'),
      h('td', { class: 'actions' }, extend, revoke));
  }

  /** Runs a change, shows its outcome, then shows the credentials as they now are. */
  async function change(action, success) {
    status.replaceChildren();
    try {
      const answer = await action();
      const text = typeof success === 'function' ? success(answer) : success;
      // A role="status" box is announced by itself.
      status.replaceChildren(h('div', { class: 'alert ok', role: 'status' }, h('p', {}, text)));
    } catch (error) {
      if (error.status === 401) return;
      status.replaceChildren(alertBox(error));
    }
    await refresh();
  }

  async function revokeLease(lease) {
    const what = lease.access_mode === 'assumed_role'
      ? `A deny for its session is written to ${lease.role_arn || 'the role'}; AWS may take minutes to apply it.`
      : `The IAM user ${lease.user_name} and its keys are deleted now; anything using them stops working.`;
    const ok = await confirmDialog({
      title: 'Revoke this credential?',
      message: `Credential ${lease.id} of ${name}. ${what}`,
      confirmLabel: 'Revoke',
      danger: true,
    });
    if (!ok) return;
    await change(() => call('dynamic-secret-tmp-creds-delete', { name, 'tmp-creds-id': lease.id }),
      (answer) => (answer?.note ? `Credential ${lease.id} revoked: ${answer.note}.` : `Credential ${lease.id} revoked.`));
  }

  async function revokeEverything() {
    const iam = leases.filter((l) => l.access_mode !== 'assumed_role').length;
    const sessions = leases.length - iam;
    const sessionsText = earlyRevocation
      ? ` ${sessions} assumed-role session${sessions === 1 ? ' is' : 's are'} denied through the role’s policy (AWS may take minutes to apply it).`
      : ` ${sessions} assumed-role session${sessions === 1 ? '' : 's'} cannot be revoked and expire on their own.`;
    const ok = await confirmDialog({
      title: 'Revoke all credentials?',
      message: `All ${iam} IAM-user credential${iam === 1 ? '' : 's'} of ${name} are revoked now.${sessions ? sessionsText : ''}`,
      confirmLabel: 'Revoke all',
      danger: true,
    });
    if (!ok) return;
    await change(() => call('dynamic-secret-tmp-creds-delete', { name, 'revoke-all': true }),
      (answer) => (answer?.note ? `All credentials revoked: ${answer.note}.` : 'All IAM-user credentials revoked.'));
  }

  function extendLease(lease) {
    const form = new Form({
      fields: [{
        id: 'new-ttl-min', label: 'Minutes from now', kind: 'number', group: 'ttl', required: true,
        min: 1, inputmode: 'numeric', initial: String(lease.custom_ttl || 60),
        hint: 'The credential will expire this many minutes from now, whatever its expiry was.',
      }],
      groups: [{ id: 'ttl', legend: `Credential ${lease.id}` }],
    });
    const summary = h('div', {});
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Extend');
    const element = h('form', { novalidate: true }, summary, form.render());
    element.addEventListener('submit', async (event) => {
      event.preventDefault();
      form.read();
      const minutes = String(form.values['new-ttl-min']).trim();
      if (!/^\d+$/.test(minutes) || Number(minutes) < 1) {
        form.showErrors([{ field: form.fields[0], message: 'Enter a whole number of minutes, at least 1' }], summary);
        return;
      }
      submit.disabled = true;
      try {
        await call('dynamic-secret-tmp-creds-update', { name, 'tmp-creds-id': lease.id, 'new-ttl-min': Number(minutes) });
        dialog.close();
        status.replaceChildren(h('div', { class: 'alert ok', role: 'status' },
          h('p', {}, `Credential ${lease.id} now expires in ${minutes} minutes.`)));
        await refresh();
      } catch (error) {
        if (error.status === 401) return;
        form.showApiError(error, summary);
      } finally {
        submit.disabled = false;
      }
    });
    element.append(h('div', { class: 'form-actions' }, submit,
      h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel')));
    const dialog = openDialog({ title: 'Extend credential', body: element });
    element.querySelector('input')?.select();
  }

  const element = h('section', { 'aria-labelledby': 'leases-title' },
    h('h2', { id: 'leases-title' }, 'Live credentials ', count),
    h('div', { class: 'toolbar' }, refreshButton, revokeAll),
    reasons,
    status,
    table);
  return { element, refresh };
}
