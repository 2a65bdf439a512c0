// The AWS dynamic-secret wizard's fields, one entry each, in the seed's
// words. An entry says how it is shown (label, kind, hint, group, step),
// where it applies (`when`), how it is sent (`param` — the API key, by
// default its `id` — or `send`), which API error fields land on it
// (`errors`), and how an existing secret fills it (`fromDetails`, given the
// `dynamic-secret-get` answer). New settings are new entries.

import { join, leafOf, parentOf } from '../paths.js';

export const GROUPS = [
  { id: 'item', legend: 'Dynamic secret' },
  { id: 'target', legend: 'Target' },
  { id: 'access', legend: 'Access' },
  { id: 'password', legend: 'Console password policy' },
  { id: 'role', legend: 'Assume role options' },
  { id: 'lifetime', legend: 'Lifetime and protection' },
  { id: 'connection', legend: 'Target properties' },
];

const iamUser = (v) => v['access-mode'] === 'iam_user';
const assumedRole = (v) => v['access-mode'] === 'assumed_role';
const federationToken = (v) => v['access-mode'] === 'federation_token';
const sessionToken = (v) => v['access-mode'] === 'session_token';
const MODES = ['iam_user', 'assumed_role', 'federation_token', 'session_token'];
const consolePassword = (v) => iamUser(v) && v['aws-user-console-access'] === true;
const explicitTarget = (v) => v['target-mode'] === 'explicit';
const editing = (ctx) => Boolean(ctx.original);

const UNITS = { seconds: 's', minutes: 'm', hours: 'h' };

/**
 * The stored TTL as User TTL + Time Unit: `60m` stays 60 minutes, a bare
 * number is seconds, anything else (`1h30m`, `1d`) goes to the largest unit
 * that holds it exactly.
 */
export function splitTtl(text) {
  const raw = String(text ?? '').trim().toLowerCase();
  const names = { s: 'seconds', m: 'minutes', h: 'hours' };
  const single = /^(\d+)\s*([smh])$/.exec(raw);
  if (single) return { value: single[1], unit: names[single[2]] };
  const units = { s: 1, m: 60, h: 3600, d: 86400 };
  let seconds = 0;
  if (/^\d+$/.test(raw)) seconds = Number(raw);
  else {
    for (const [, n, u] of raw.matchAll(/(\d+)\s*([smhd])/g)) seconds += Number(n) * units[u];
  }
  if (!(seconds > 0)) return { value: '60', unit: 'minutes' };
  if (seconds % 3600 === 0) return { value: String(seconds / 3600), unit: 'hours' };
  if (seconds % 60 === 0) return { value: String(seconds / 60), unit: 'minutes' };
  return { value: String(seconds), unit: 'seconds' };
}

const settings = [
  {
    id: 'name', label: 'Name', kind: 'text', group: 'item', required: true,
    hint: 'A unique name. It may include sub-folders, separated by /.',
    errors: ['name', 'new-name'],
    send: (value, values, ctx) => {
      const full = join(values.location, value);
      return editing(ctx)
        ? [['name', ctx.original], ['new-name', full === ctx.original ? '' : full]]
        : [['name', full]];
    },
    fromDetails: (d) => leafOf(d.dynamic_secret_name),
  },
  {
    id: 'location', label: 'Location', kind: 'text', group: 'item', param: null, errors: [],
    hint: 'The virtual folder it lives in, e.g. /prod/aws. Folders that do not exist are created with it.',
    initial: (ctx) => ctx.location ?? '/',
    fromDetails: (d) => parentOf(d.dynamic_secret_name),
  },
  {
    id: 'description', label: 'Description', kind: 'text', group: 'item',
    fromDetails: (d) => d.description ?? '',
  },
  {
    id: 'delete_protection', label: 'Delete Protection', kind: 'checkbox', group: 'item',
    hint: 'Protects the secret from accidental deletion: it cannot be deleted while this is on.',
    fromDetails: (d) => Boolean(d.delete_protection),
  },
  {
    id: 'target-mode', label: 'Target mode', kind: 'radio', group: 'target', param: null, errors: [],
    options: [
      { value: 'existing', label: 'Choose an existing target', hint: 'Use an AWS target registered on this gateway (recommended).' },
      { value: 'explicit', label: 'Explicitly specify target properties', hint: 'Give the AWS admin credentials on the next step, for this secret alone.' },
    ],
    initial: (ctx) => (ctx.targets.length > 0 ? 'existing' : 'explicit'),
    fromDetails: (d) => (d.item_targets_assoc?.length ? 'existing' : 'explicit'),
  },
  {
    id: 'target-name', label: 'Target', kind: 'select', group: 'target', required: true,
    hint: 'The AWS targets you may use.',
    when: (v) => v['target-mode'] === 'existing',
    options: (ctx) => (ctx.targets.length
      ? ctx.targets.map((t) => ({ value: t, label: t }))
      : [{ value: '', label: 'No AWS target you may use' }]),
    fromDetails: (d) => d.item_targets_assoc?.[0]?.target_name ?? '',
  },
  {
    id: 'access-mode', label: 'Access Mode', kind: 'radio', group: 'access',
    options: [
      { value: 'iam_user', label: 'IAM User', hint: 'A temporary IAM user with the policies and groups below; revocable at any time.' },
      { value: 'assumed_role', label: 'Assume Role', hint: 'STS AssumeRole session credentials for one of the role ARNs; 15 minutes to 12 hours. They only expire, unless early revocation is on.' },
      { value: 'federation_token', label: 'Federation Token', hint: 'STS GetFederationToken: a federated-user session of the admin user, limited to the policies below; 15 minutes to 36 hours, expires on its own. Needs an IAM user’s long-term key.' },
      { value: 'session_token', label: 'Session Token', hint: 'STS GetSessionToken: a session of the admin user itself, optionally with MFA; 15 minutes to 36 hours, expires on its own. Needs an IAM user’s long-term key.' },
    ],
    initial: 'iam_user',
    fromDetails: (d) => (MODES.includes(d.aws_access_mode) ? d.aws_access_mode : 'iam_user'),
  },
  {
    id: 'aws-user-policies', label: 'Policies', kind: 'text', group: 'access', when: (v) => iamUser(v) || federationToken(v),
    hint: 'Managed policy ARNs attached to the temporary user (Federation Token: limiting the session), separated by commas.',
    fromDetails: (d) => d.aws_user_policies ?? '',
  },
  {
    id: 'aws-user-groups', label: 'Groups', kind: 'text', group: 'access', when: iamUser,
    hint: 'IAM groups the temporary user joins, separated by commas.',
    fromDetails: (d) => d.aws_user_groups ?? '',
  },
  {
    id: 'aws-role-arns', label: 'Role ARNs', kind: 'textarea', group: 'access', when: assumedRole,
    hint: 'The roles that may be assumed, separated by commas. With several, whoever fetches a value picks one.',
    fromDetails: (d) => d.aws_role_arns ?? '',
  },
  {
    id: 'session-policy', label: 'Session policy', kind: 'textarea', group: 'access', when: federationToken,
    hint: 'An inline policy document (JSON) the federated user’s session is limited to, with the policies above.',
    fromDetails: (d) => d.session_policy ?? '',
  },
  {
    id: 'mfa-serial', label: 'MFA device', kind: 'text', group: 'access', when: sessionToken,
    hint: 'The admin user’s MFA device (serial number or ARN). Whoever fetches a value then passes mfa-code=<code>.',
    fromDetails: (d) => d.mfa_serial ?? '',
  },
  {
    id: 'aws-user-programmatic-access', label: 'User Programmatic Access', kind: 'checkbox', group: 'access', when: iamUser,
    hint: 'An access key ID and secret access key for the AWS API, CLI and SDKs.',
    initial: true,
    fromDetails: (d) => d.aws_user_programmatic_access !== false,
  },
  {
    id: 'aws-user-console-access', label: 'User Console Access', kind: 'checkbox', group: 'access', when: iamUser,
    hint: 'A user name and password for the AWS Management Console.',
    fromDetails: (d) => Boolean(d.aws_user_console_access),
  },
  {
    id: 'password-length', label: 'Password length', kind: 'number', group: 'password', when: consolePassword,
    min: 8, max: 128, inputmode: 'numeric', initial: '20',
    fromDetails: (d) => String(d.password_length ?? 20),
  },
  ...[
    ['use-capital-letters', 'Capital letters (A–Z)', 'use_capital_letters'],
    ['use-lower-letters', 'Lower-case letters (a–z)', 'use_lower_letters'],
    ['use-numbers', 'Numbers (0–9)', 'use_numbers'],
    ['use-special-characters', 'Special characters', 'use_special_characters'],
  ].map(([id, label, detail]) => ({
    id, label, kind: 'checkbox', group: 'password', when: consolePassword, initial: true,
    fromDetails: (d) => d[detail] !== false,
  })),
  {
    id: 'aws-external-id', label: 'External ID', kind: 'text', group: 'role', when: assumedRole,
    hint: 'Sent with AssumeRole when the role’s trust policy asks for one.',
    fromDetails: (d) => d.aws_external_id ?? '',
  },
  {
    id: 'early-revocation', label: 'Early revocation', kind: 'checkbox', group: 'role', when: assumedRole,
    hint: 'Revoking a credential denies its session through the role’s dynsec-revoked-sessions inline policy (roles in the target’s own account; the admin needs iam:GetRolePolicy, PutRolePolicy, DeleteRolePolicy and ListRolePolicies on them). AWS may take minutes to apply it.',
    fromDetails: (d) => Boolean(d.early_revocation),
  },
  {
    id: 'session-tags', label: 'Session tags', kind: 'text', group: 'role', when: assumedRole,
    hint: 'key=value pairs put on the session, separated by commas.',
    fromDetails: (d) => d.aws_session_tags ?? '',
  },
  {
    id: 'transitive-tag-keys', label: 'Transitive tag keys', kind: 'text', group: 'role', when: assumedRole,
    hint: 'Session tag keys that carry over to chained role sessions, separated by spaces.',
    fromDetails: (d) => d.aws_transitive_tag_keys ?? '',
  },
  {
    id: 'user-ttl', label: 'User TTL', kind: 'number', group: 'lifetime', row: 'ttl', required: true,
    min: 1, inputmode: 'numeric', initial: '60',
    hint: 'How long each issued credential lives (Assume Role: 15 minutes to 12 hours; Federation and Session Token: 15 minutes to 36 hours).',
    send: (value, values) => [['user-ttl', `${String(value).trim()}${UNITS[values['ttl-unit']] ?? 'm'}`]],
    fromDetails: (d) => splitTtl(d.user_ttl).value,
  },
  {
    id: 'ttl-unit', label: 'Time Unit', kind: 'select', group: 'lifetime', row: 'ttl', param: null, errors: [],
    options: Object.keys(UNITS).map((unit) => ({ value: unit, label: unit })),
    initial: 'minutes',
    fromDetails: (d) => splitTtl(d.user_ttl).unit,
  },
  {
    id: 'secure-access-delay', label: 'Secure access delay (seconds)', kind: 'number', group: 'lifetime',
    min: 0, max: 120, inputmode: 'numeric', initial: '0',
    hint: 'The longest the gateway waits, 0 to 120 seconds, for a new credential to be seen working before handing it out; it returns as soon as AWS accepts it.',
    fromDetails: (d) => String(d.secure_access_delay ?? 0),
  },
  {
    id: 'producer-encryption-key-name', label: 'Protection key', kind: 'text', group: 'lifetime',
    hint: 'For zero knowledge, a protection key with a customer fragment seals this secret’s AWS credentials. Empty: the gateway’s master key.',
    list: (ctx) => ctx.keyListId,
    fromDetails: (d) => d.producer_encryption_key_name ?? '',
  },
  // Not shown, sent back as stored: an update replaces every setting.
  { id: 'tags', kind: 'carried', fromDetails: (d) => d.tags ?? [] },
  { id: 'iam-path', kind: 'carried', fromDetails: (d) => d.iam_path ?? '' },
  { id: 'iam-endpoint', kind: 'carried', fromDetails: (d) => d.iam_endpoint ?? '' },
  { id: 'sts-endpoint', kind: 'carried', fromDetails: (d) => d.sts_endpoint ?? '' },
].map((field) => ({ step: 'settings', ...field }));

const targetProperties = [
  {
    id: 'aws-access-key-id', label: 'Access Key ID', kind: 'text', group: 'connection', required: true,
    hint: 'Of the privileged IAM user the gateway acts as in this AWS account.',
    fromDetails: (d) => (d.item_targets_assoc?.length ? '' : d.aws_access_key_id ?? ''),
  },
  {
    id: 'aws-access-secret-key', label: 'Secret Access Key', kind: 'password', group: 'connection',
    required: (ctx) => !editing(ctx), autocomplete: 'new-password',
    hint: (ctx) => (editing(ctx) ? 'Leave empty to keep the stored one.' : 'Stored encrypted; never shown again.'),
  },
  {
    id: 'region', label: 'Region', kind: 'text', group: 'connection', required: true, initial: 'us-east-1',
    hint: 'The AWS region the temporary credentials are meant for.',
    fromDetails: (d) => d.aws_region || 'us-east-1',
  },
  {
    id: 'aws-session-token', label: 'Session Token', kind: 'password', group: 'connection', autocomplete: 'off',
    hint: 'Only for temporary security credentials from STS; otherwise leave empty.',
  },
].map((field) => ({ step: 'target', when: explicitTarget, ...field }));

export const FIELDS = [...settings, ...targetProperties];

/** The form's starting values for editing the secret `details` describes. */
export function valuesFrom(details, context) {
  const values = {};
  for (const field of FIELDS) {
    if (field.fromDetails) values[field.id] = field.fromDetails(details, context);
  }
  return values;
}
