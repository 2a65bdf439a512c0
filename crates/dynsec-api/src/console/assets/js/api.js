// The console's only way to the gateway: `POST /api/v2/<op>` with a JSON
// body carrying the token, exactly as any SDK calls it. No cookies, so the
// browser never sends credentials on its own (no CSRF to defend against).

/** The API's base, relative to the console, so a proxy prefix keeps working. */
const BASE = new URL('../api/v2/', document.baseURI);

/** An answer that was not a success, with the API's own message. */
export class ApiError extends Error {
  constructor(status, message, op) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.op = op;
  }
}

let tokenSource = () => null;
let onSignedOut = () => {};

/** Where the token comes from (the session module), and what to do on a 401. */
export function configure({ token, signedOut }) {
  tokenSource = token;
  onSignedOut = signedOut;
}

/**
 * Calls `op` with `body` (plus the session's token unless `anonymous`).
 * Resolves to the parsed answer; rejects with an ApiError.
 */
export async function call(op, body = {}, { anonymous = false } = {}) {
  const payload = anonymous ? body : { ...body, token: tokenSource() ?? '' };
  let response;
  try {
    response = await fetch(new URL(op, BASE), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(payload),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (err) {
    throw new ApiError(0, `Cannot reach the gateway (${err.message}). Check that it is running and try again.`, op);
  }
  const text = await response.text();
  let answer = null;
  try {
    answer = text ? JSON.parse(text) : {};
  } catch {
    answer = null;
  }
  if (!response.ok) {
    const message = (answer && typeof answer.error === 'string' && answer.error)
      || `The gateway answered HTTP ${response.status}.`;
    const error = new ApiError(response.status, message, op);
    if (response.status === 401 && !anonymous) onSignedOut(error);
    throw error;
  }
  if (answer === null) throw new ApiError(response.status, 'The gateway sent an answer that is not JSON.', op);
  return answer;
}
