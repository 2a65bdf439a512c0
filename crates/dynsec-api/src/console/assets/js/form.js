// Forms from declarative field tables (see screens/*-fields.js). A field is
// one entry — label, kind, the API key it is sent as, where it applies — so
// adding a setting is adding an entry. Kinds: text, password, number,
// textarea, checkbox, select, radio, and carried (no control: a stored
// setting sent back unchanged). Every input has a real <label>, radio
// groups and sections are <fieldset>s with a <legend>, hints and errors are
// tied to their input with aria-describedby.

import { h, uid } from './dom.js';
import { errorSummary, fieldOf, reasonOf } from './errors.js';

const resolve = (value, ...args) => (typeof value === 'function' ? value(...args) : value);

export class Form {
  /**
   * `fields`: the table; `groups`: [{ id, legend }] in display order;
   * `context`: what `when`/`options`/`hint` functions see besides the values;
   * `values`: the starting values (by field id).
   */
  constructor({ fields, groups, context = {}, values = {} }) {
    this.fields = fields;
    this.groups = groups;
    this.context = context;
    this.prefix = uid('form');
    this.values = {};
    for (const field of fields) {
      this.values[field.id] = field.id in values ? values[field.id] : resolve(field.initial, context) ?? defaultOf(field);
    }
    this.rendered = new Map();
  }

  inputId(field) {
    return `${this.prefix}-${field.id}`;
  }

  /** Whether `field` applies to the current values. */
  applies(field) {
    return !field.when || Boolean(field.when(this.values, this.context));
  }

  /** The fields of `step` (all fields when the table has no steps). */
  fieldsOf(step) {
    return step === undefined ? this.fields : this.fields.filter((f) => f.step === step);
  }

  /** Renders the fields of `step`, grouped in fieldsets; remembers the inputs. */
  render(step) {
    this.rendered.clear();
    this.groupElements = new Map();
    const container = h('div', { class: 'form-fields' });
    const fields = this.fieldsOf(step);
    for (const group of this.groups) {
      // A 'carried' field has no control: it sends back a stored setting
      // the form doesn't show, since an update replaces every setting.
      const members = fields.filter((f) => f.group === group.id && f.kind !== 'carried');
      if (members.length === 0) continue;
      const fieldset = h('fieldset', { class: 'group' }, h('legend', {}, group.legend));
      let row = null;
      for (const field of members) {
        const element = this.renderField(field);
        if (field.row) {
          if (!row || row.dataset.row !== field.row) {
            row = h('div', { class: 'field-row', 'data-row': field.row });
            fieldset.append(row);
          }
          row.append(element);
        } else {
          row = null;
          fieldset.append(element);
        }
      }
      this.groupElements.set(group.id, { fieldset, members });
      container.append(fieldset);
    }
    container.addEventListener('input', () => this.changed());
    container.addEventListener('change', () => this.changed());
    // A select without a stored value shows its first option: that is the value.
    this.read();
    this.refresh();
    return container;
  }

  renderField(field) {
    const id = this.inputId(field);
    const hintText = resolve(field.hint, this.context, this.values);
    const hintId = hintText ? `${id}-hint` : null;
    const errorId = `${id}-error`;
    const error = h('p', { class: 'field-error', id: errorId, hidden: true });
    const value = this.values[field.id];
    const describedBy = [hintId].filter(Boolean).join(' ') || null;
    let wrapper;
    let inputs;
    if (field.kind === 'checkbox') {
      const input = h('input', { type: 'checkbox', id, name: field.id, checked: Boolean(value), 'aria-describedby': describedBy });
      wrapper = h('div', { class: 'field checkbox' }, input, h('label', { for: id }, field.label),
        hintText && h('p', { class: 'hint', id: hintId }, hintText), error);
      inputs = [input];
    } else if (field.kind === 'radio') {
      const options = resolve(field.options, this.context) ?? [];
      inputs = options.map((option) => h('input', {
        type: 'radio', id: `${id}-${option.value}`, name: id, value: option.value,
        checked: option.value === value,
        'aria-describedby': option.hint ? `${id}-${option.value}-hint` : null,
      }));
      wrapper = h('fieldset', { class: 'field', id: `${id}-group`, 'aria-describedby': describedBy },
        h('legend', {}, field.label),
        hintText && h('p', { class: 'hint', id: hintId }, hintText),
        error,
        options.map((option, i) => h('div', { class: 'radio' }, inputs[i],
          h('div', {}, h('label', { for: `${id}-${option.value}` }, option.label),
            option.hint && h('span', { class: 'hint', id: `${id}-${option.value}-hint` }, option.hint)))));
    } else {
      let input;
      if (field.kind === 'select') {
        const options = resolve(field.options, this.context) ?? [];
        input = h('select', { id, name: field.id, 'aria-describedby': describedBy },
          options.map((option) => h('option', { value: option.value, selected: option.value === value }, option.label)));
      } else if (field.kind === 'textarea') {
        input = h('textarea', { id, name: field.id, rows: 3, 'aria-describedby': describedBy, value: value ?? '' });
      } else {
        input = h('input', {
          type: field.kind ?? 'text', id, name: field.id, value: value ?? '',
          autocomplete: field.autocomplete ?? 'off', spellcheck: 'false',
          inputmode: field.inputmode, min: field.min, max: field.max,
          required: this.isRequired(field), 'aria-required': this.isRequired(field) ? 'true' : null,
          list: resolve(field.list, this.context),
          'aria-describedby': describedBy,
        });
      }
      wrapper = h('div', { class: 'field' }, h('label', { for: id }, field.label),
        hintText && h('p', { class: 'hint', id: hintId }, hintText), error, input);
      inputs = [input];
    }
    this.rendered.set(field.id, { field, wrapper, inputs, error, hintId });
    return wrapper;
  }

  /** Reads the rendered inputs into `values`. */
  read() {
    for (const { field, inputs } of this.rendered.values()) {
      if (field.kind === 'checkbox') this.values[field.id] = inputs[0].checked;
      else if (field.kind === 'radio') this.values[field.id] = inputs.find((i) => i.checked)?.value ?? this.values[field.id];
      else this.values[field.id] = inputs[0].value;
    }
    return this.values;
  }

  changed() {
    this.read();
    this.refresh();
    this.onChange?.(this.values);
  }

  /** Shows the fields (and groups) that apply, hides the rest. */
  refresh() {
    for (const { field, wrapper } of this.rendered.values()) wrapper.hidden = !this.applies(field);
    for (const { fieldset, members } of this.groupElements?.values() ?? []) {
      fieldset.hidden = !members.some((f) => this.applies(f));
    }
  }

  /** The request body: every field that applies, as its API key(s). */
  request() {
    const body = {};
    for (const field of this.fields) {
      if (!this.applies(field)) continue;
      const value = this.values[field.id];
      if (field.kind === 'carried' && (value === undefined || value === '')) continue;
      if (field.send) {
        for (const [key, v] of field.send(value, this.values, this.context) ?? []) body[key] = v;
      } else if (field.param !== null) {
        body[field.param ?? field.id] = typeof value === 'string' ? value.trim() : value;
      }
    }
    return body;
  }

  /** The field an API error names, among those that apply. */
  fieldForApiName(name) {
    return this.fields.find((f) => this.applies(f) && (f.errors ?? [f.param ?? f.id]).includes(name)) ?? null;
  }

  clearErrors() {
    for (const { field, wrapper, inputs, error, hintId } of this.rendered.values()) {
      error.hidden = true;
      error.textContent = '';
      // Radios carry their option's hint; the group carries the field's.
      const described = field.kind === 'radio' ? [wrapper] : inputs;
      for (const input of inputs) input.removeAttribute('aria-invalid');
      for (const el of described) {
        if (hintId) el.setAttribute('aria-describedby', hintId);
        else el.removeAttribute('aria-describedby');
      }
    }
  }

  /** Puts `message` on the rendered `field`; returns the id to focus. */
  showFieldError(field, message) {
    const entry = this.rendered.get(field.id);
    if (!entry) return null;
    entry.error.textContent = message;
    entry.error.hidden = false;
    const describedBy = [entry.hintId, entry.error.id].filter(Boolean).join(' ');
    for (const input of entry.inputs) input.setAttribute('aria-invalid', 'true');
    for (const el of field.kind === 'radio' ? [entry.wrapper] : entry.inputs) el.setAttribute('aria-describedby', describedBy);
    const target = field.kind === 'radio' ? (entry.inputs.find((i) => i.checked) ?? entry.inputs[0]) : entry.inputs[0];
    return target?.id ?? null;
  }

  /**
   * Shows `error` (an ApiError) on the field it names (or in the summary),
   * inside `summaryHost`, and moves focus to the summary.
   */
  showApiError(error, summaryHost) {
    this.clearErrors();
    const apiField = fieldOf(error.message);
    const field = apiField ? this.fieldForApiName(apiField) : null;
    let summary;
    if (field && error.status === 400 && this.rendered.has(field.id)) {
      const reason = reasonOf(error.message, apiField);
      const inputId = this.showFieldError(field, reason);
      summary = errorSummary([{ inputId, label: field.label, message: reason }], null);
    } else {
      summary = errorSummary([], error);
    }
    summaryHost.replaceChildren(summary);
    summary.focus();
  }

  /** Shows errors found before sending (`[{ field, message }]`). */
  showErrors(errors, summaryHost) {
    this.clearErrors();
    const items = errors.map(({ field, message }) => ({
      inputId: this.showFieldError(field, message), label: field.label, message,
    }));
    const summary = errorSummary(items, null);
    summaryHost.replaceChildren(summary);
    summary.focus();
  }

  isRequired(field) {
    return Boolean(resolve(field.required, this.context));
  }

  /** Required fields that apply and are empty. */
  missingRequired(step) {
    return this.fieldsOf(step)
      .filter((f) => this.isRequired(f) && this.applies(f) && String(this.values[f.id] ?? '').trim() === '')
      .map((field) => ({ field, message: `Enter ${field.label.toLowerCase()}` }));
  }
}

function defaultOf(field) {
  if (field.kind === 'checkbox') return false;
  if (field.kind === 'radio' || field.kind === 'select') {
    return undefined;
  }
  return '';
}
