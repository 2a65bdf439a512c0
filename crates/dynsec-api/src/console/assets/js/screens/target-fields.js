// The AWS target form's fields (see form.js for what an entry says).

export const GROUPS = [
  { id: 'target', legend: 'Target' },
  { id: 'connection', legend: 'AWS admin credentials' },
  { id: 'protection', legend: 'Protection' },
];

const editing = (ctx) => Boolean(ctx.original);

/** { accessKeyId, region } of a Target (from Akeyless's `target_details` text when the flat fields are absent). */
export function connectionOf(target) {
  const details = String(target.target_details ?? '');
  return {
    accessKeyId: target.aws_access_key_id ?? /access_key_id=(\S*)/.exec(details)?.[1] ?? '',
    region: target.aws_region ?? /region=(\S*)/.exec(details)?.[1] ?? '',
  };
}

export const FIELDS = [
  {
    id: 'name', label: 'Name', kind: 'text', group: 'target', required: true,
    hint: 'A path, e.g. /aws/prod.',
    errors: ['name', 'new-name'],
    send: (value, values, ctx) => (editing(ctx)
      ? [['name', ctx.original], ['new-name', value.trim() === ctx.original ? '' : value.trim()]]
      : [['name', value.trim()]]),
    fromDetails: (t) => t.target_name,
  },
  {
    id: 'description', label: 'Description', kind: 'text', group: 'target',
    fromDetails: (t) => t.comment ?? '',
  },
  {
    id: 'access-key-id', label: 'Access Key ID', kind: 'text', group: 'connection', required: true,
    hint: 'Of a privileged IAM user in this account (the seed lists the permissions it needs).',
    fromDetails: (t) => connectionOf(t).accessKeyId,
  },
  {
    id: 'access-key', label: 'Secret Access Key', kind: 'password', group: 'connection',
    required: (ctx) => !editing(ctx), autocomplete: 'new-password',
    hint: (ctx) => (editing(ctx) ? 'Leave empty to keep the stored one.' : 'Stored encrypted; shown only to callers allowed to reveal it.'),
  },
  {
    id: 'region', label: 'Region', kind: 'text', group: 'connection', required: true, initial: 'us-east-1',
    fromDetails: (t) => connectionOf(t).region || 'us-east-1',
  },
  {
    id: 'session-token', label: 'Session Token', kind: 'password', group: 'connection', autocomplete: 'off',
    hint: 'Only for temporary security credentials from STS; otherwise leave empty.',
  },
  {
    id: 'key', label: 'Protection key', kind: 'text', group: 'protection',
    hint: 'A protection key to seal the secret with (zero knowledge with a customer fragment). Empty: the gateway’s master key.',
    list: (ctx) => ctx.keyListId,
    fromDetails: (t) => t.protection_key_name ?? '',
  },
  {
    id: 'delete_protection', label: 'Delete Protection', kind: 'checkbox', group: 'protection',
    hint: 'When on, the target cannot be deleted until this is turned off.',
    fromDetails: (t) => Boolean(t.delete_protection),
  },
  // Not shown, sent back as stored: an update replaces every setting.
  { id: 'iam-endpoint', kind: 'carried', fromDetails: (t) => t.iam_endpoint ?? '' },
  { id: 'sts-endpoint', kind: 'carried', fromDetails: (t) => t.sts_endpoint ?? '' },
];
