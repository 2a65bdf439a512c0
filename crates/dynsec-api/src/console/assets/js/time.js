// Times as operators read them: local wall-clock time with the date when it
// is not today, and live countdowns.

import { h } from './dom.js';

/** `14:05:33` today, else `2026-11-02 14:05`. */
export function formatTime(iso) {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return '—';
  const sameDay = t.toDateString() === new Date().toDateString();
  const pad = (n) => String(n).padStart(2, '0');
  const clock = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  if (sameDay) return clock;
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${clock.slice(0, 5)}`;
}

/** `59:58`, `2:03:04`, `3 d 4 h`, or `expired`. */
export function formatRemaining(iso, now = Date.now()) {
  const seconds = Math.floor((Date.parse(iso) - now) / 1000);
  if (!(seconds > 0)) return 'expired';
  const d = Math.floor(seconds / 86400);
  const hh = Math.floor((seconds % 86400) / 3600);
  const mm = Math.floor((seconds % 3600) / 60);
  const ss = seconds % 60;
  const pad = (n) => String(n).padStart(2, '0');
  if (d > 0) return `${d} d ${hh} h`;
  if (hh > 0) return `${hh}:${pad(mm)}:${pad(ss)}`;
  return `${mm}:${pad(ss)}`;
}

/** A `<time>` showing when `iso` is. */
export function timeElement(iso) {
  return h('time', { datetime: iso, title: new Date(iso).toString() }, formatTime(iso));
}

/**
 * A live countdown to `iso` (role="timer": screen readers don't announce
 * every tick), updated every second until `signal` aborts.
 */
export function countdown(iso, signal) {
  const el = h('span', { class: 'countdown', role: 'timer' });
  const tick = () => {
    const remaining = formatRemaining(iso);
    el.textContent = remaining === 'expired' ? 'expired' : `in ${remaining}`;
    if (remaining === 'expired') clearInterval(timer);
  };
  const timer = setInterval(tick, 1000);
  signal?.addEventListener('abort', () => clearInterval(timer));
  tick();
  return el;
}
