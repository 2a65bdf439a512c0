// The web console end to end, in Debian's headless Chromium driven by
// playwright-core (which never downloads a browser). Run by
// crates/dynsec/tests/console.rs against the real gateway binary and moto
// with authentication on; at each checkpoint that test proves with the AWS
// SDK what the browser was shown (the key works, then is refused).
//
// Controls are found by role and label, as a person finds them. One
// Chromium, three contexts: an admin (light), a restricted key, and a
// keyboard-only user in dark mode.

import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { checkpoint, closeCheckpoints, env, shot, step, until } from './lib/harness.mjs';
import { watch } from './lib/watch.mjs';
import { assertFocusVisible, assertLabelled, description, isFocused, schemeOf, tabTo } from './lib/a11y.mjs';

const GATEWAY = env('E2E_GATEWAY_URL');
const ADMIN = { id: env('E2E_ADMIN_ACCESS_ID'), key: env('E2E_ADMIN_ACCESS_KEY') };
const VIEWER = { id: env('E2E_VIEWER_ACCESS_ID'), key: env('E2E_VIEWER_ACCESS_KEY') };
const AWS = { keyId: env('E2E_AWS_ACCESS_KEY_ID'), secret: env('E2E_AWS_SECRET_ACCESS_KEY') };
const POLICY_ARN = env('E2E_POLICY_ARN');
const GROUP = env('E2E_GROUP_NAME');
const ROLES = [env('E2E_ROLE_ARN'), env('E2E_SECOND_ROLE_ARN')];
const CSP = env('E2E_EXPECTED_CSP');

const TARGET = '/aws/console';
const SECRET = '/prod/aws/dev-creds';

const browser = await chromium.launch({
  executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
  // Playwright gives every launch a fresh, empty profile (--user-data-dir).
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});

const pages = [];
try {
  const admin = await newPage({ colorScheme: 'light' });
  await signInAndTargets(admin);
  await wizardWithTarget(admin);
  await getValueExtendRevoke(admin);
  await browseFolders(admin);

  const viewer = await newPage({ colorScheme: 'light' });
  await restrictedKey(viewer);
  viewer.watch.assertClean('restricted key');

  const keyboard = await newPage({ colorScheme: 'dark' });
  await keyboardOnlyAssumedRole(keyboard);
  keyboard.watch.assertClean('keyboard, dark');

  await editAndDelete(admin);
  admin.watch.assertClean('admin');
  step('all flows passed');
} catch (error) {
  // What each page showed when it failed, beside the screenshots.
  for (const [i, page] of pages.entries()) {
    await page.screenshot({ path: `${env('DYNSEC_CONSOLE_SCREENSHOTS')}/failure-${i + 1}.png`, fullPage: true }).catch(() => {});
  }
  throw error;
} finally {
  closeCheckpoints();
  await browser.close();
}

async function newPage({ colorScheme }) {
  const context = await browser.newContext({ colorScheme, viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: GATEWAY });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.watch = watch(page);
  pages.push(page);
  return page;
}

/**
 * The browser enforces the CSP, not just receives it: HTML and script sinks
 * throw (Trusted Types 'none'). Probed in a page of its own, since the
 * refusals are logged. (eval can't be probed from here: DevTools evaluation
 * is exempt from script-src.)
 */
async function assertCspEnforced(context) {
  const probe = await context.newPage();
  await probe.goto(`${GATEWAY}/console/`);
  const outcome = await probe.evaluate(() => {
    const attempt = (f) => { try { f(); return 'allowed'; } catch (error) { return error.name; } };
    return {
      innerHTML: attempt(() => { document.body.innerHTML = '<b>x</b>'; }),
      scriptText: attempt(() => { document.createElement('script').textContent = 'window.injected = 1'; }),
    };
  });
  assert.deepEqual(outcome, { innerHTML: 'TypeError', scriptText: 'TypeError' });
  await probe.close();
}

async function signIn(page, key) {
  await page.getByLabel('Access ID').fill(key.id);
  await page.getByLabel('Access Key').fill(key.key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Secrets & Keys' }).waitFor();
}

/** Opens the dynamic secret `name` from the folder browser. */
async function openSecret(page, name) {
  await page.goto(`${GATEWAY}/console/#/dynamic-secret${name}`);
  await page.getByRole('button', { name: 'Get Dynamic Secret' }).waitFor();
}

async function signInAndTargets(page) {
  step('sign in: a browser at / lands on the console, with its CSP');
  const response = await page.goto(`${GATEWAY}/`);
  assert.equal(new URL(page.url()).pathname, '/console/');
  assert.equal(response.headers()['content-security-policy'], CSP);
  await page.getByRole('heading', { name: 'Sign in to dynsec' }).waitFor();
  await assertLabelled(page, 'sign in');
  await assertCspEnforced(page.context());
  await shot(page, 'sign-in');

  page.watch.expect('auth', 401);
  await page.getByLabel('Access ID').fill(ADMIN.id);
  await page.getByLabel('Access Key').fill('not-the-key');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await until(async () => (await page.getByRole('alert').textContent()).includes('wrong access id or access key'), 'the refusal');
  await signIn(page, ADMIN);
  const session = await page.locator('#session').textContent();
  assert.match(session, /Signed in as \/admin/);
  // A time today, or a date and time when the session crosses midnight.
  assert.match(session, /Session ends (\d\d:\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d) \(in 59:\d\d\)/);
  assert.equal(await page.evaluate(() => Object.keys(localStorage).length), 0, 'nothing in localStorage');
  assert.ok(!page.url().includes('t-'), 'no token in the URL');

  step('targets: create, reveal, edit');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Targets' }).click();
  await page.getByRole('link', { name: 'New target' }).click();
  await page.getByRole('heading', { name: 'New target' }).waitFor();
  await page.getByLabel('Name').fill(TARGET);
  await page.getByLabel('Description').fill('moto, created in the console');
  await page.getByLabel('Access Key ID').fill(AWS.keyId);
  await page.getByLabel('Secret Access Key').fill(AWS.secret);
  await page.getByLabel('Region').fill('us-east-1');
  await assertLabelled(page, 'target form');
  await shot(page, 'target-form');
  await page.getByRole('button', { name: 'Create target' }).click();
  await page.getByRole('heading', { level: 1, name: TARGET, exact: true }).waitFor();
  assert.match(await page.getByRole('status').first().textContent(), /Created target \/aws\/console/);

  await page.getByRole('button', { name: 'Reveal admin key' }).click();
  const reveal = page.getByRole('dialog', { name: `Admin key of ${TARGET}` });
  await reveal.waitFor();
  assert.ok((await reveal.textContent()).includes(AWS.keyId));
  assert.ok(!(await reveal.textContent()).includes(AWS.secret), 'the admin secret is masked until revealed');
  await reveal.getByRole('button', { name: 'Reveal Secret Access Key' }).click();
  await until(async () => (await reveal.textContent()).includes(AWS.secret), 'the revealed admin secret');
  await reveal.getByRole('button', { name: 'Close' }).click();
  await reveal.waitFor({ state: 'detached' });
  assert.ok(!(await page.content()).includes(AWS.secret), 'the admin secret left the page with its dialog');

  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByRole('heading', { name: `Edit target ${TARGET}` }).waitFor();
  assert.equal(await page.getByLabel('Access Key ID').inputValue(), AWS.keyId);
  await page.getByLabel('Description').fill('moto, edited in the console');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('heading', { level: 1, name: TARGET, exact: true }).waitFor();
  await page.getByText('moto, edited in the console').waitFor();
  await shot(page, 'target');
  await page.getByRole('link', { name: '← Targets' }).click();
  await page.getByRole('link', { name: TARGET }).waitFor();
  await assertLabelled(page, 'targets');
  await shot(page, 'targets');

  // Editing one setting keeps the ones the form doesn't show (this target's endpoints).
  await page.getByRole('link', { name: '/aws/moto' }).click();
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel('Description').fill('edited in the console');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('edited in the console').waitFor();
  await checkpoint('moto-target-edited', { name: '/aws/moto', description: 'edited in the console' });
}

async function wizardWithTarget(page) {
  step('wizard: New > Dynamic Secret > AWS, with an existing target');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Secrets & Keys' }).click();
  await page.getByRole('button', { name: 'New' }).click();
  await page.getByRole('menuitem', { name: 'Dynamic Secret' }).click();
  await page.getByRole('heading', { name: 'New dynamic secret' }).waitFor();
  assert.ok(await page.getByRole('radio', { name: 'AWS' }).isChecked());
  await shot(page, 'wizard-type');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Name', { exact: true }).fill('dev-creds');
  await page.getByLabel('Location').fill('/prod/aws');
  await page.getByRole('radio', { name: 'Choose an existing target' }).check();
  await page.getByLabel('Target', { exact: true }).selectOption(TARGET);
  await page.getByRole('radio', { name: 'IAM User' }).check();
  // Fields that apply only to the other mode are not shown.
  assert.equal(await page.getByLabel('Role ARNs').isVisible(), false);
  await page.getByLabel('Policies').fill(POLICY_ARN);
  await page.getByLabel('Groups').fill(GROUP);
  assert.ok(await page.getByLabel('User Programmatic Access').isChecked());
  assert.equal(await page.getByLabel('Password length').isVisible(), false);
  await page.getByLabel('User Console Access').check();
  await page.getByLabel('Password length').waitFor();
  await page.getByLabel('User Console Access').uncheck();
  await page.getByLabel('User TTL').fill('60');
  assert.equal(await page.getByLabel('Time Unit').inputValue(), 'minutes');
  // With a target there is no third step: the button finishes.
  await page.getByRole('button', { name: 'Finish' }).waitFor();
  await assertLabelled(page, 'wizard settings');
  await shot(page, 'wizard-settings');
  await page.getByRole('button', { name: 'Finish' }).click();
  await page.getByRole('heading', { level: 1, name: 'dev-creds', exact: true }).waitFor();
  assert.match(await page.getByRole('status').first().textContent(), /Created \/prod\/aws\/dev-creds/);
  const settings = await page.locator('dl.settings').textContent();
  assert.ok(settings.includes(POLICY_ARN) && settings.includes(GROUP) && settings.includes(TARGET), settings);
}

/** Gets a value in the result dialog; returns what it showed, and closes it. */
async function getValue(page, { reveal = [] } = {}) {
  await page.getByRole('button', { name: 'Get Dynamic Secret' }).click();
  const dialog = page.getByRole('dialog', { name: 'Dynamic secret value' });
  await dialog.waitFor();
  const shown = {};
  for (const label of reveal) await dialog.getByRole('button', { name: `Reveal ${label}` }).click();
  const rows = await dialog.locator('dl.secret-fields').evaluate((dl) => {
    const out = {};
    for (const dt of dl.querySelectorAll('dt')) out[dt.textContent] = dt.nextElementSibling.textContent;
    return out;
  });
  Object.assign(shown, rows);
  return { dialog, shown };
}

async function closeValue(page, dialog, secrets) {
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'detached' });
  const html = await page.content();
  for (const secret of secrets) assert.ok(!html.includes(secret), 'issued secrets leave the page when the result closes');
}

async function getValueExtendRevoke(page) {
  step('Get Dynamic Secret: shown once, masked, copyable, with a live countdown');
  const { dialog, shown: masked } = await getValue(page);
  assert.match(await dialog.textContent(), /This value will not be shown again/);
  assert.match(masked['Secret Access Key'], /^•+hidden$/, 'the secret is masked');
  const countdown = dialog.getByRole('timer');
  const first = await countdown.textContent();
  assert.match(first, /^in (59|60):\d\d$/);
  await until(async () => (await countdown.textContent()) !== first, 'the countdown to tick');
  await shot(page, 'issued-value');
  await dialog.getByRole('button', { name: 'Copy Access Key ID' }).click();
  const copied = await until(() => page.evaluate(() => navigator.clipboard.readText()), 'the clipboard');
  assert.equal(copied, masked['Access Key ID']);
  await dialog.getByRole('button', { name: 'Reveal Secret Access Key' }).click();
  const secret = await dialog.locator('dl.secret-fields dt:text-is("Secret Access Key") + dd').textContent();
  assert.ok(secret.length >= 20 && !secret.includes('•'));
  const issued = { access_key_id: masked['Access Key ID'], secret_access_key: secret, user_name: masked['User name'] };
  const leaseId = masked['Credential ID'];
  await closeValue(page, dialog, [secret]);
  await checkpoint('iam-user-key-issued', issued);

  step('live credentials: extend, then revoke with confirmation');
  const row = page.locator(`tr[data-lease="${leaseId}"]`);
  await row.waitFor();
  assert.equal(await row.locator('.badge').textContent(), 'active');
  await row.getByRole('button', { name: `Extend ${leaseId}` }).click();
  const extend = page.getByRole('dialog', { name: 'Extend credential' });
  await extend.getByLabel('Minutes from now').fill('120');
  await extend.getByRole('button', { name: 'Extend' }).click();
  await extend.waitFor({ state: 'detached' });
  await until(async () => {
    const at = Date.parse(await row.locator('time').nth(1).getAttribute('datetime'));
    return Math.abs(at - (Date.now() + 120 * 60_000)) < 120_000;
  }, 'the expiry to move 120 minutes out');

  await row.getByRole('button', { name: `Revoke ${leaseId}` }).click();
  const confirm = page.getByRole('dialog', { name: 'Revoke this credential?' });
  assert.match(await confirm.textContent(), new RegExp(issued.user_name.replace(/\./g, '\\.')));
  // The safe choice has the focus.
  assert.ok(await isFocused(confirm.getByRole('button', { name: 'Cancel' })));
  await confirm.getByRole('button', { name: 'Revoke' }).click();
  await row.waitFor({ state: 'detached' });
  await page.getByText('No live credentials.').waitFor();
  await checkpoint('iam-user-key-revoked', issued);

  step('Revoke all');
  const users = [];
  for (let i = 0; i < 2; i += 1) {
    const { dialog: d, shown } = await getValue(page);
    users.push(shown['User name']);
    await closeValue(page, d, []);
  }
  await until(async () => (await page.locator('tr[data-lease]').count()) === 2, 'two live credentials');
  await shot(page, 'dynamic-secret');
  await page.getByRole('button', { name: 'Revoke all' }).click();
  await page.getByRole('dialog', { name: 'Revoke all credentials?' }).getByRole('button', { name: 'Revoke all' }).click();
  await page.getByText('All IAM-user credentials revoked.').waitFor();
  await page.getByText('No live credentials.').waitFor();
  await checkpoint('all-revoked', { user_names: users });
}

async function browseFolders(page) {
  step('Secrets & Keys: folders, breadcrumb, filter');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Secrets & Keys' }).click();
  await page.getByRole('link', { name: 'prod/' }).click();
  await page.getByRole('heading', { level: 1, name: 'prod', exact: true }).waitFor();
  await page.getByRole('link', { name: 'aws/' }).click();
  await page.getByRole('heading', { level: 1, name: 'aws', exact: true }).waitFor();
  const crumbs = page.getByRole('navigation', { name: 'Breadcrumb' });
  assert.equal((await crumbs.textContent()).replace(/\s+/g, ''), 'Secrets&Keysprodaws');
  await page.getByRole('link', { name: 'dev-creds' }).waitFor();
  // Five items, pages of three (the gateway's --list-page-size): the rest
  // comes with Load more, each once, and then there is no more.
  await page.getByRole('link', { name: 'page-2' }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'page-3' }).count(), 0, 'page-3 is on the next page');
  await page.getByRole('button', { name: 'Load more' }).click();
  await page.getByRole('link', { name: 'page-4' }).waitFor();
  for (const name of ['dev-creds', 'page-1', 'page-2', 'page-3', 'page-4']) {
    assert.equal(await page.getByRole('link', { name, exact: true }).count(), 1, `${name} listed once`);
  }
  assert.equal(await page.getByRole('button', { name: 'Load more' }).count(), 0, 'nothing more to load');
  await page.getByLabel('Filter by name').fill('nothing-like-it');
  await page.getByText('Nothing in /prod/aws matches “nothing-like-it”.').waitFor();
  await page.getByLabel('Filter by name').fill('dev');
  await page.getByRole('link', { name: 'dev-creds' }).waitFor();
  await assertLabelled(page, 'folder');
  await shot(page, 'secrets-and-keys');
  await crumbs.getByRole('link', { name: 'prod' }).click();
  await page.getByRole('heading', { level: 1, name: 'prod', exact: true }).waitFor();
}

async function restrictedKey(page) {
  step('restricted key: actions it may not use are disabled with the reason; a 403 reads clearly');
  await page.goto(`${GATEWAY}/console/`);
  await signIn(page, VIEWER);
  await openSecret(page, SECRET);
  for (const name of ['Edit', 'Delete', 'Revoke all']) {
    const button = page.getByRole('button', { name, exact: true });
    assert.ok(await button.isDisabled(), `${name} is disabled`);
    assert.match(await description(button), /Needs ‘(update|delete)’ permission on the dynamic secret \/prod\/aws\/dev-creds/);
  }
  assert.ok(await page.getByRole('button', { name: 'Get Dynamic Secret' }).isEnabled());
  // A disabled button does nothing when pressed.
  await page.getByRole('button', { name: 'Delete', exact: true }).click({ force: true });
  assert.equal(await page.getByRole('dialog').count(), 0);
  const { dialog } = await getValue(page);
  await closeValue(page, dialog, []);
  const row = page.locator('tr[data-lease]');
  await row.waitFor();
  for (const name of [/^Extend/, /^Revoke/]) {
    const button = row.getByRole('button', { name });
    assert.ok(await button.isDisabled());
    assert.match(await description(button), /Needs ‘update’ permission/);
  }
  await assertLabelled(page, 'restricted secret');
  await shot(page, 'restricted-dynamic-secret');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Targets' }).click();
  await page.getByRole('link', { name: TARGET }).click();
  await page.getByRole('heading', { level: 1, name: TARGET, exact: true }).waitFor();
  assert.equal(await page.getByRole('link', { name: '/aws/moto' }).count(), 0, 'only targets it may list');
  const reveal = page.getByRole('button', { name: 'Reveal admin key' });
  assert.ok(await reveal.isDisabled());
  assert.match(await description(reveal), /Needs ‘reveal’ permission on the target \/aws\/console/);
  for (const name of ['Edit', 'Delete']) assert.ok(await page.getByRole('button', { name, exact: true }).isDisabled());
  await shot(page, 'restricted-target');

  page.watch.expect('target-get', 403);
  await page.goto(`${GATEWAY}/console/#/target/aws/moto`);
  await page.getByRole('heading', { name: 'This page could not be shown' }).waitFor();
  const alert = page.getByRole('alert');
  assert.match(await alert.textContent(), /Not allowed.*access denied: 'read' on target '\/aws\/moto'/s);
  await shot(page, 'restricted-403');
}

async function keyboardOnlyAssumedRole(page) {
  step('keyboard only, dark: the wizard with explicit target properties and Assume Role');
  await page.goto(`${GATEWAY}/console/`);
  const dark = await schemeOf(page);
  assert.ok(dark.background < 0.05 && dark.text > 0.6, `dark scheme: ${JSON.stringify(dark)}`);
  const kb = page.keyboard;
  await tabTo(page, page.getByLabel('Access ID'));
  await kb.type(ADMIN.id);
  await kb.press('Tab');
  await kb.type(ADMIN.key);
  await kb.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'Secrets & Keys' }).waitFor();

  const newButton = page.getByRole('button', { name: 'New' });
  await tabTo(page, newButton);
  await assertFocusVisible(page, 'New button');
  await kb.press('Enter');
  assert.ok(await isFocused(page.getByRole('menuitem', { name: 'Dynamic Secret' })));
  await kb.press('Enter');
  await page.getByRole('heading', { name: 'New dynamic secret' }).waitFor();
  await tabTo(page, page.getByRole('button', { name: 'Next' }));
  await kb.press('Enter');

  await tabTo(page, page.getByLabel('Name', { exact: true }));
  await kb.type('session');
  await kb.press('Tab');
  await kb.press('Control+A');
  await kb.type('/prod/roles');
  // In a radio group the arrow keys choose.
  await tabTo(page, page.getByRole('radio', { name: 'Choose an existing target' }));
  await kb.press('ArrowDown');
  assert.ok(await page.getByRole('radio', { name: 'Explicitly specify target properties' }).isChecked());
  await tabTo(page, page.getByRole('radio', { name: 'IAM User' }));
  await kb.press('ArrowDown');
  assert.ok(await page.getByRole('radio', { name: 'Assume Role' }).isChecked());
  await tabTo(page, page.getByLabel('Role ARNs'));
  await kb.type(ROLES.join(','));
  // Five minutes: the gateway refuses (assumed-role sessions last 15 min–12 h).
  await tabTo(page, page.getByLabel('User TTL'));
  await kb.press('Control+A');
  await kb.type('5');
  await tabTo(page, page.getByRole('button', { name: 'Next' }));
  await assertFocusVisible(page, 'Next button');
  await kb.press('Enter');

  await page.getByRole('heading', { level: 2, name: 'Target properties' }).waitFor();
  await tabTo(page, page.getByLabel('Access Key ID'));
  await kb.type(AWS.keyId);
  await kb.press('Tab');
  await kb.type(AWS.secret);
  await assertLabelled(page, 'wizard target properties');
  await shot(page, 'wizard-target-properties');
  page.watch.expect('dynamic-secret-create-aws', 400);
  await kb.press('Enter');

  step('a bad field lands on its field, back on the settings step');
  const ttl = page.getByLabel('User TTL');
  await until(async () => (await ttl.getAttribute('aria-invalid')) === 'true', 'User TTL marked invalid');
  assert.match(await description(ttl), /15m and 12h/);
  const summary = page.getByRole('alert');
  assert.ok(await isFocused(summary), 'the error summary has the focus');
  await shot(page, 'wizard-error');
  await kb.press('Tab');
  assert.ok(await isFocused(summary.getByRole('link', { name: /^User TTL:/ })));
  await kb.press('Enter');
  assert.ok(await isFocused(ttl), 'the summary link leads to the field');
  await kb.press('Control+A');
  await kb.type('30');
  await tabTo(page, page.getByRole('button', { name: 'Next' }));
  await kb.press('Enter');
  await page.getByRole('heading', { level: 2, name: 'Target properties' }).waitFor();
  assert.equal(await page.getByLabel('Access Key ID').inputValue(), AWS.keyId, 'the step kept its values');
  await tabTo(page, page.getByRole('button', { name: 'Finish' }));
  await kb.press('Enter');
  await page.getByRole('heading', { level: 1, name: 'session', exact: true }).waitFor();

  step('Get Dynamic Secret with the role picker; the session is not revocable');
  const picker = page.getByLabel('Role ARN', { exact: true });
  await tabTo(page, picker);
  await kb.press('ArrowDown');
  assert.equal(await picker.inputValue(), ROLES[1]);
  await tabTo(page, page.getByRole('button', { name: 'Get Dynamic Secret' }));
  await kb.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Dynamic secret value' });
  await dialog.waitFor();
  for (const label of ['Secret Access Key', 'Session Token']) {
    await tabTo(page, dialog.getByRole('button', { name: `Reveal ${label}` }));
    await kb.press('Enter');
  }
  const shown = await dialog.locator('dl.secret-fields').evaluate((dl) => Object.fromEntries(
    [...dl.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling.textContent])));
  assert.equal(shown['Role ARN'], ROLES[1]);
  await kb.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.ok(await isFocused(page.getByRole('button', { name: 'Get Dynamic Secret' })), 'focus returns to the opener');
  await checkpoint('assumed-role-session-issued', {
    access_key_id: shown['Access Key ID'],
    secret_access_key: shown['Secret Access Key'],
    session_token: shown['Session Token'],
    role_arn: shown['Role ARN'],
  });
  const row = page.locator('tr[data-lease]');
  await row.waitFor();
  const revoke = row.getByRole('button', { name: /^Revoke/ });
  assert.ok(await revoke.isDisabled());
  assert.match(await description(revoke), /AWS cannot end an assumed-role session before it expires/);
  assert.match(await description(page.getByRole('button', { name: 'Revoke all' })), /no IAM-user credential/);
  const stillDark = await schemeOf(page);
  assert.ok(stillDark.background < 0.05, 'dark throughout');
  await assertLabelled(page, 'assumed-role secret');
  await shot(page, 'dynamic-secret-dark');

  step('early revocation: turned on with Edit, Revoke then denies the session');
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByRole('heading', { name: 'Edit /prod/roles/session' }).waitFor();
  const early = page.getByLabel('Early revocation');
  assert.ok(!(await early.isChecked()), 'off by default');
  await early.check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { level: 2, name: 'Target properties' }).waitFor();
  await page.getByRole('button', { name: 'Finish' }).click();
  await page.getByRole('heading', { level: 1, name: 'session', exact: true }).waitFor();
  assert.match(await page.locator('dl.settings').textContent(), /Early revocationOn/);
  const lease = page.locator('tr[data-lease]');
  await lease.waitFor();
  const revokeNow = lease.getByRole('button', { name: /^Revoke/ });
  assert.ok(!(await revokeNow.isDisabled()), 'revocable with early revocation');
  await revokeNow.click();
  const confirmRevoke = page.getByRole('dialog', { name: 'Revoke this credential?' });
  assert.match(await confirmRevoke.textContent(), /AWS may take minutes to apply it/);
  await confirmRevoke.getByRole('button', { name: 'Revoke' }).click();
  const alerts = async () => (await page.locator('.alert').allTextContents()).join(' | ');
  try {
    await until(async () => (await alerts()).includes('deny written; AWS may take minutes to apply it'), 'the revocation note');
  } catch (error) {
    throw new Error(`${error.message}; alerts shown: ${await alerts()}`);
  }
  await page.getByText('No live credentials').waitFor();
  await shot(page, 'early-revocation');
}

async function editAndDelete(page) {
  step('edit: fields come back filled; Delete Protection is honoured');
  await openSecret(page, SECRET);
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByRole('heading', { name: `Edit ${SECRET}` }).waitFor();
  assert.equal(await page.getByLabel('Policies').inputValue(), POLICY_ARN);
  assert.equal(await page.getByLabel('Target', { exact: true }).inputValue(), TARGET);
  assert.equal(await page.getByLabel('User TTL').inputValue(), '60');
  await page.getByLabel('Delete Protection').check();
  await page.getByLabel('User TTL').fill('2');
  await page.getByLabel('Time Unit').selectOption('hours');
  await shot(page, 'wizard-edit');
  await page.getByRole('button', { name: 'Finish' }).click();
  await page.getByRole('heading', { level: 1, name: 'dev-creds', exact: true }).waitFor();
  const settings = await page.locator('dl.settings').textContent();
  assert.match(settings, /User TTL2h/);
  assert.match(settings, /Delete ProtectionOn/);
  const del = page.getByRole('button', { name: 'Delete', exact: true });
  assert.ok(await del.isDisabled());
  assert.match(await description(del), /Delete Protection is on/);

  step('delete: a target in use, forced, takes its dynamic secrets with it');
  await page.getByRole('link', { name: TARGET }).click();
  await page.getByRole('heading', { level: 1, name: TARGET, exact: true }).waitFor();
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  const confirm = page.getByRole('dialog', { name: 'Delete this target?' });
  await confirm.getByLabel('Also delete the 1 dynamic secret using it').check();
  await shot(page, 'target-delete');
  page.watch.expect('target-delete', 409);
  await confirm.getByRole('button', { name: 'Delete' }).click();
  // Still protected: the refusal names the reason, nothing is deleted.
  await until(async () => (await page.getByRole('alert').textContent()).includes('delete protection'), 'the refusal');
  await openSecret(page, SECRET);
  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel('Delete Protection').uncheck();
  await page.getByRole('button', { name: 'Finish' }).click();
  await page.getByRole('heading', { level: 1, name: 'dev-creds', exact: true }).waitFor();
  await page.getByRole('link', { name: TARGET }).click();
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await confirm.getByLabel('Also delete the 1 dynamic secret using it').check();
  await confirm.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('heading', { level: 1, name: 'Targets', exact: true }).waitFor();
  assert.match(await page.getByRole('status').first().textContent(), /Deleted target \/aws\/console/);
  page.watch.expect('dynamic-secret-get', 404);
  await page.goto(`${GATEWAY}/console/#/dynamic-secret${SECRET}`);
  await page.getByRole('heading', { name: 'This page could not be shown' }).waitFor();

  step('delete a dynamic secret; sign out');
  await openSecret(page, '/prod/roles/session');
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.getByRole('dialog', { name: 'Delete this dynamic secret?' }).getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('heading', { level: 1, name: 'roles', exact: true }).waitFor();
  assert.match(await page.getByRole('status').first().textContent(), /Deleted \/prod\/roles\/session/);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in to dynsec' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the token is gone from the tab');
}
