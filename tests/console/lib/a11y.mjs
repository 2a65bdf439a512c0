// What a keyboard or screen-reader user relies on, checked in the page.

import assert from 'node:assert/strict';

/** Presses Tab until `locator` has the focus (at most `max` times). */
export async function tabTo(page, locator, max = 80) {
  for (let i = 0; i < max; i += 1) {
    if (await locator.evaluate((el) => el === document.activeElement).catch(() => false)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`could not reach ${locator} with Tab`);
}

/** Whether `locator` has the focus. */
export function isFocused(locator) {
  return locator.evaluate((el) => el === document.activeElement);
}

/** The text of the elements `aria-describedby` names. */
export function description(locator) {
  return locator.evaluate((el) => (el.getAttribute('aria-describedby') ?? '')
    .split(/\s+/).filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent ?? '')
    .join(' '));
}

/** Every visible control has an accessible name; the page has one h1. */
export async function assertLabelled(page, label) {
  const unnamed = await page.evaluate(() => {
    const out = [];
    for (const el of document.querySelectorAll('input, select, textarea, button, a[href]')) {
      if (!el.checkVisibility()) continue;
      const named = (el.labels && el.labels.length > 0)
        || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
        || (el.tagName === 'BUTTON' || el.tagName === 'A') && el.textContent.trim();
      if (!named) out.push(el.outerHTML.slice(0, 120));
    }
    return out;
  });
  assert.deepEqual(unnamed, [], `${label}: controls without an accessible name`);
  assert.equal(await page.locator('h1').count(), 1, `${label}: one h1`);
}

/** The focused element shows a focus outline. */
export async function assertFocusVisible(page, label) {
  const outline = await page.evaluate(() => {
    const style = getComputedStyle(document.activeElement);
    return { style: style.outlineStyle, width: parseFloat(style.outlineWidth) };
  });
  assert.ok(outline.style !== 'none' && outline.width >= 2, `${label}: focus outline ${JSON.stringify(outline)}`);
}

/** Relative luminance (0 black … 1 white) of an `rgb(...)` colour. */
export function luminance(rgb) {
  const [r, g, b] = rgb.match(/[\d.]+/g).slice(0, 3).map(Number).map((c) => {
    const v = c / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** The page's background and text luminance. */
export async function schemeOf(page) {
  const colors = await page.evaluate(() => {
    const style = getComputedStyle(document.body);
    return { background: style.backgroundColor, text: style.color };
  });
  return { background: luminance(colors.background), text: luminance(colors.text) };
}
