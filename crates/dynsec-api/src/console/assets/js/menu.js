// A menu button (WAI-ARIA menu pattern): Enter, Space or ArrowDown opens it
// on the first item, arrows move, Escape closes and returns to the button,
// Tab leaves it closed.

import { h, uid } from './dom.js';

/** `items`: [{ label, href }]. */
export function menuButton(label, items) {
  const menuId = uid('menu');
  const button = h('button', {
    type: 'button', class: 'primary', 'aria-haspopup': 'menu', 'aria-expanded': 'false', 'aria-controls': menuId,
  }, label, h('span', { 'aria-hidden': 'true' }, '▾'));
  const entries = items.map((item) => h('a', { role: 'menuitem', href: item.href, tabindex: '-1' }, item.label));
  const menu = h('ul', { role: 'menu', id: menuId, hidden: true, 'aria-label': label },
    entries.map((entry) => h('li', { role: 'none' }, entry)));

  const open = (focusIndex = 0) => {
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    entries[Math.max(0, Math.min(focusIndex, entries.length - 1))]?.focus();
  };
  const close = (refocus) => {
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
    if (refocus) button.focus();
  };

  button.addEventListener('click', () => (menu.hidden ? open(0) : close(true)));
  button.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown') { event.preventDefault(); open(0); }
    if (event.key === 'ArrowUp') { event.preventDefault(); open(entries.length - 1); }
  });
  menu.addEventListener('keydown', (event) => {
    const index = entries.indexOf(document.activeElement);
    if (event.key === 'ArrowDown') { event.preventDefault(); entries[(index + 1) % entries.length].focus(); }
    else if (event.key === 'ArrowUp') { event.preventDefault(); entries[(index - 1 + entries.length) % entries.length].focus(); }
    else if (event.key === 'Home') { event.preventDefault(); entries[0].focus(); }
    else if (event.key === 'End') { event.preventDefault(); entries[entries.length - 1].focus(); }
    else if (event.key === 'Escape') { event.preventDefault(); close(true); }
    else if (event.key === 'Tab') close(false);
    else if (event.key === ' ') { event.preventDefault(); document.activeElement?.click(); }
  });
  menu.addEventListener('click', () => close(false));
  const wrapper = h('div', { class: 'menu' }, button, menu);
  wrapper.addEventListener('focusout', (event) => {
    if (!wrapper.contains(event.relatedTarget)) close(false);
  });
  return wrapper;
}
