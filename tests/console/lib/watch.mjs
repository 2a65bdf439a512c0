// No console error may be logged, except Chromium's own "Failed to load
// resource" line for an API answer the test provoked on purpose (a 401 for a
// wrong key, a 403, a refused field): those are registered with `expect`,
// and each must then really happen.

import assert from 'node:assert/strict';

export function watch(page) {
  const errors = [];
  const failures = [];
  const expected = [];
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push({ text: message.text(), url: message.location()?.url ?? '' });
  });
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (url.pathname.startsWith('/api/v2/') && response.status() >= 400) {
      failures.push({ op: url.pathname.slice('/api/v2/'.length), status: response.status() });
    }
  });
  return {
    /** The next answer of `op` with `status` is intended. */
    expect(op, status) {
      expected.push({ op, status });
    },
    /** Fails unless every error logged is an intended API failure, and every intended failure happened. */
    assertClean(label) {
      const unexplained = [];
      const pending = [...expected];
      const happened = [...failures];
      for (const error of errors) {
        const match = typeof error === 'object'
          && /^Failed to load resource: the server responded with a status of (\d+)/.exec(error.text);
        const op = match && new URL(error.url).pathname.replace('/api/v2/', '');
        const i = match ? pending.findIndex((e) => e.op === op && e.status === Number(match[1])) : -1;
        if (i >= 0) pending.splice(i, 1);
        else unexplained.push(typeof error === 'object' ? `${error.text} (${error.url})` : error);
      }
      for (const e of expected) {
        const i = happened.findIndex((f) => f.op === e.op && f.status === e.status);
        assert.ok(i >= 0, `${label}: expected ${e.op} to answer ${e.status}, it did not`);
        happened.splice(i, 1);
      }
      assert.deepEqual(unexplained, [], `${label}: console errors`);
      assert.deepEqual(happened, [], `${label}: API failures nobody expected`);
    },
  };
}
