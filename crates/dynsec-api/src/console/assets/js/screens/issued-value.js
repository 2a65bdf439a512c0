// The result of Get Dynamic Secret, shown once: each field with a copy
// button, secrets masked until revealed, the expiry as a time and a live
// countdown, and the warning that it will not be shown again. The values
// exist only inside this dialog; closing it removes them from the page.

import { h } from '../dom.js';
import { openDialog } from '../dialog.js';
import { copyText, secretFieldList } from '../secret-fields.js';
import { countdown, timeElement } from '../time.js';

/** [value key, label, secret?] in display order; absent keys are skipped. */
const FIELDS = [
  ['user_name', 'User name'],
  ['access_key_id', 'Access Key ID'],
  ['secret_access_key', 'Secret Access Key', true],
  ['session_token', 'Session Token', true],
  ['console_password', 'Console password', true],
  ['console_sign_in_url', 'Console sign-in URL'],
  ['role_arn', 'Role ARN'],
  ['assumed_role_arn', 'Assumed role ARN'],
  ['user_arn', 'User ARN'],
  ['id', 'Credential ID'],
];

/** Opens the result dialog for `value` (the API's flat answer). */
export function showIssuedValue(value, { name, onClose } = {}) {
  const lifetime = new AbortController();
  const fields = secretFieldList(FIELDS.map(([key, label, secret]) => ({ label, text: value[key], secret })));
  const exports = [
    ['AWS_ACCESS_KEY_ID', value.access_key_id],
    ['AWS_SECRET_ACCESS_KEY', value.secret_access_key],
    ['AWS_SESSION_TOKEN', value.session_token],
  ].filter(([, v]) => v).map(([k, v]) => `export ${k}='${v}'`).join('\n');
  const exportButton = exports
    ? h('button', { type: 'button', onclick: () => copyText(exports, 'Shell exports', fields) }, 'Copy as shell exports')
    : null;
  const close = h('button', { type: 'button', class: 'primary', onclick: () => dialog.close() }, 'Close');
  const dialog = openDialog({
    title: 'Dynamic secret value',
    className: 'issued-value',
    body: [
      h('p', {}, 'A new credential from ', h('code', {}, name), '.'),
      h('div', { class: 'alert warn', role: 'note' },
        h('p', {}, h('strong', {}, 'This value will not be shown again. '),
          'Copy what you need now: once you close this window it is gone from the console. Getting the dynamic secret again issues a new credential.')),
      value.expiration && h('p', { class: 'expiry' }, 'Expires at ', timeElement(value.expiration), ' (', countdown(value.expiration, lifetime.signal), ')'),
      fields,
    ],
    actions: [close, exportButton],
    onClose: () => {
      lifetime.abort();
      // Drop this dialog's references to the secret values.
      for (const key of Object.keys(value)) delete value[key];
      onClose?.();
    },
  });
  close.focus();
}
