// Item paths as the API writes them: `/`-rooted, no trailing slash.

/** `/prod/aws/x` → ['prod', 'aws', 'x']. */
export function segments(path) {
  return String(path ?? '').split('/').filter(Boolean);
}

/** Normalized: `prod//aws/` → `/prod/aws`; empty → `/`. */
export function normalize(path) {
  return `/${segments(path).join('/')}`;
}

/** `/prod/aws/x` → `/prod/aws`; `/x` → `/`. */
export function parentOf(path) {
  return normalize(segments(path).slice(0, -1).join('/'));
}

/** `/prod/aws/x` → `x`. */
export function leafOf(path) {
  return segments(path).at(-1) ?? '';
}

/** A name typed in a folder: `join('/prod', 'aws/x')` → `/prod/aws/x`. */
export function join(folder, name) {
  return normalize(`${folder ?? ''}/${name ?? ''}`);
}
