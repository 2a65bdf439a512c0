// New > Dynamic Secret > AWS, and Edit: the seed's wizard. Steps: the
// secret type (new only), the settings, and — when "Explicitly specify
// target properties" is chosen — the target properties. Finish creates or
// updates it; an error the API names a field for lands on that field, on
// whichever step it is.

import { call } from '../api.js';
import { h } from '../dom.js';
import { fieldOf } from '../errors.js';
import { setFlash } from '../flash.js';
import { Form } from '../form.js';
import { allKeys, allPages } from '../paging.js';
import { normalize } from '../paths.js';
import { go, href } from '../router.js';
import { breadcrumb } from '../breadcrumb.js';
import { FIELDS, GROUPS, valuesFrom } from './wizard-fields.js';

const STEP_TITLES = { type: 'Secret type', settings: 'Settings', target: 'Target properties' };

/** AWS targets the caller may list, and the protection keys it may list. */
async function loadChoices() {
  const [targets, keys] = await Promise.all([
    allPages('target-list', { type: ['aws'] }, 'targets').then((t) => t.map((x) => x.target_name).sort()),
    allKeys().then((k) => k.keys).catch(() => []),
  ]);
  return { targets, keys };
}

export const create = {
  title: () => 'New dynamic secret',
  async render(route) {
    const location = normalize(route.query.get('location') ?? '/');
    const choices = await loadChoices();
    return new Wizard({ mode: 'create', location, ...choices }).element;
  },
};

export const edit = {
  title: (route) => `Edit ${route.path}`,
  async render(route) {
    const name = normalize(route.path);
    const [details, choices] = await Promise.all([
      call('dynamic-secret-get', { name }),
      loadChoices(),
    ]);
    return new Wizard({ mode: 'edit', original: name, details, ...choices }).element;
  },
};

class Wizard {
  constructor({ mode, location, original, details, targets, keys }) {
    this.mode = mode;
    const keyListId = 'protection-keys';
    const context = { location, original, targets, keyListId };
    this.form = new Form({
      fields: FIELDS,
      groups: GROUPS,
      context,
      values: details ? valuesFrom(details, context) : {},
    });
    this.original = original;
    this.summary = h('div', {});
    this.stepList = h('ol', { class: 'steps', 'aria-label': 'Steps' });
    this.body = h('div', {});
    this.actions = h('div', { class: 'form-actions' });
    this.formElement = h('form', { novalidate: true, 'aria-labelledby': 'wizard-title' },
      this.summary, this.body, this.actions,
      h('datalist', { id: keyListId }, keys.map((k) => h('option', { value: k }))));
    this.formElement.addEventListener('submit', (event) => {
      event.preventDefault();
      this.forward();
    });
    this.form.onChange = () => this.renderActions();
    const heading = mode === 'create' ? 'New dynamic secret' : `Edit ${original}`;
    this.element = h('section', {},
      breadcrumb(mode === 'create' ? location : original, { lastIsCurrent: mode !== 'create' }),
      h('h1', { id: 'wizard-title' }, heading),
      h('p', { class: 'subtitle' }, mode === 'create'
        ? 'An AWS dynamic secret hands out a fresh, short-lived AWS credential each time its value is fetched.'
        : 'Changes apply to credentials issued from now on; live ones keep what they were issued with.'),
      this.stepList,
      this.formElement);
    this.show(mode === 'create' ? 'type' : 'settings', { focus: false });
  }

  /** The steps that apply now. */
  steps() {
    const steps = this.mode === 'create' ? ['type', 'settings'] : ['settings'];
    if (this.form.values['target-mode'] === 'explicit') steps.push('target');
    return steps;
  }

  show(step, { focus = true } = {}) {
    if (this.step && this.step !== 'type') this.form.read();
    this.step = step;
    this.summary.replaceChildren();
    const heading = h('h2', { tabindex: '-1' }, STEP_TITLES[step]);
    this.body.replaceChildren(heading, step === 'type' ? typeStep() : this.form.render(step));
    this.renderActions();
    if (focus) heading.focus();
  }

  /**
   * Updates the step list and buttons in place. Never replaces the buttons:
   * a field's change event fires on the mousedown that moves focus to one,
   * and a button replaced then would never see its click.
   */
  renderActions() {
    const steps = this.steps();
    const index = steps.indexOf(this.step);
    this.stepList.replaceChildren(...steps.map((s, i) => h('li', { 'aria-current': s === this.step ? 'step' : null },
      `${i + 1}. ${STEP_TITLES[s]}`)));
    if (!this.finish) {
      this.back = h('button', { type: 'button', onclick: () => this.show(this.steps()[this.steps().indexOf(this.step) - 1]) }, 'Back');
      this.finish = h('button', { type: 'submit', class: 'primary' });
      const cancel = h('a', {
        class: 'button',
        href: this.mode === 'create' ? href('items', this.form.context.location) : href('dynamic-secret', this.original),
      }, 'Cancel');
      this.actions.replaceChildren(this.back, this.finish, cancel);
    }
    this.back.hidden = index <= 0;
    this.finish.textContent = index === steps.length - 1 ? 'Finish' : 'Next';
  }

  /** Next, or Finish on the last step. */
  async forward() {
    if (this.step !== 'type') {
      this.form.read();
      const missing = this.form.missingRequired(this.step);
      if (missing.length) {
        this.form.showErrors(missing, this.summary);
        return;
      }
    }
    const steps = this.steps();
    const index = steps.indexOf(this.step);
    if (index < steps.length - 1) {
      this.show(steps[index + 1]);
      return;
    }
    await this.submit();
  }

  async submit() {
    const body = this.form.request();
    const op = this.mode === 'create' ? 'dynamic-secret-create-aws' : 'dynamic-secret-update-aws';
    this.finish.disabled = true;
    try {
      const answer = await call(op, body);
      const name = answer.dynamic_secret_details?.dynamic_secret_name
        ?? (body['new-name'] || body.name);
      setFlash(this.mode === 'create' ? `Created ${name}.` : `Saved ${name}.`);
      go('dynamic-secret', name);
    } catch (error) {
      if (error.status === 401) return;
      const field = this.form.fieldForApiName(fieldOf(error.message) ?? '');
      if (field && error.status === 400 && field.step !== this.step) this.show(field.step, { focus: false });
      this.form.showApiError(error, this.summary);
    } finally {
      if (this.finish.isConnected) this.finish.disabled = false;
    }
  }
}

/** Step 1 of New: AWS is the one type this gateway serves. */
function typeStep() {
  return h('fieldset', { class: 'group' },
    h('legend', {}, 'Dynamic secret type'),
    h('div', { class: 'radio' },
      h('input', { type: 'radio', id: 'secret-type-aws', name: 'secret-type', value: 'aws', checked: true, 'aria-describedby': 'secret-type-aws-hint' }),
      h('div', {}, h('label', { for: 'secret-type-aws' }, 'AWS'),
        h('span', { class: 'hint', id: 'secret-type-aws-hint' },
          'Temporary IAM users (iam_user) or assumed-role sessions (assumed_role).'))));
}

