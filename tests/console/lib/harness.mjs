// Plumbing between this script and the Rust test that runs it
// (crates/dynsec/tests/console.rs): settings from the environment,
// checkpoints where the Rust side checks AWS (moto) before the script goes
// on, screenshots, and waiting for a condition with a deadline.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A required environment variable. */
export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (this script is run by crates/dynsec/tests/console.rs)`);
  return value;
}

const input = createInterface({ input: process.stdin });
const stdinLines = input[Symbol.asyncIterator]();

/** Stops listening for the Rust test's answers, so the script can exit. */
export function closeCheckpoints() {
  input.close();
}

/**
 * Hands `data` to the Rust test as `@@checkpoint {"checkpoint": <name>, ...}` and
 * waits for its `ok` (it checks AWS meanwhile; anything else is a failure).
 */
export async function checkpoint(name, data = {}) {
  process.stdout.write(`@@checkpoint ${JSON.stringify({ ...data, checkpoint: name })}\n`);
  const { value, done } = await stdinLines.next();
  if (done || value.trim() !== 'ok') throw new Error(`checkpoint ${name}: the Rust test answered ${done ? 'nothing' : value}`);
}

let shotCount = 0;
/** A full-page screenshot `<NN>-<name>.png` in the test run's output folder. */
export async function shot(page, name) {
  const dir = env('DYNSEC_CONSOLE_SCREENSHOTS');
  mkdirSync(dir, { recursive: true });
  shotCount += 1;
  const file = join(dir, `${String(shotCount).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Waits until `condition()` is truthy (and returns it), failing with `what` after `timeout` ms. */
export async function until(condition, what, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await condition();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One step's log line, so a failure shows how far the run got. */
export function step(text) {
  process.stderr.write(`[console e2e] ${text}\n`);
}
