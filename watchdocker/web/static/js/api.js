// Calls to serve's API ({code, msg, data} answers) and the session's token.
//
// The token lives in sessionStorage: it is this tab's only (not shared with other tabs or
// windows) and gone when the tab closes, so a console left open elsewhere holds no session.
// The temp token of a login's second factor is only ever kept in memory.

const TOKEN = "watchdocker.token";
const USER = "watchdocker.user";

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN);
  },
  get user() {
    return sessionStorage.getItem(USER) || "";
  },
  start(user, token) {
    sessionStorage.setItem(USER, user);
    sessionStorage.setItem(TOKEN, token);
  },
  end() {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(USER);
  },
};

export const Codes = {
  APPROVAL_NEEDED: 20201,
  NOT_AUTHENTICATED: 40101,
  TOKEN_EXPIRED: 40102,
  WRONG_CREDENTIALS: 40103,
  WRONG_CODE: 40104,
  FULL_TOKEN_REQUIRED: 40301,
  TOO_MANY_ATTEMPTS: 42901,
};

const NO_ANSWER = "serve does not answer: is it running?";

export class ApiError extends Error {
  constructor(status, body) {
    super(body.msg || `HTTP ${status}`);
    this.status = status;
    this.code = body.code;
    this.data = body.data;
  }

  /** The message to show, with the wait of a lockout. */
  get text() {
    const wait = this.data && this.data.retryAfterSeconds;
    if (this.code === Codes.TOO_MANY_ATTEMPTS && wait && !this.message.includes("try again in")) {
      return `${this.message} (wait ${wait} s)`;
    }
    return this.message;
  }
}

// Set by app.js: what to do when the session's token is refused (back to the login page).
let onSessionLost = () => {};
export function whenSessionLost(handler) {
  onSessionLost = handler;
}

/**
 * One call. `token` defaults to the session's; an answer whose code is not 0 (20201 included)
 * throws ApiError. A refused session token ends the session and goes back to the login page.
 */
export async function call(method, path, { body, token = session.token } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const send = () => fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let response;
  try {
    response = await send();
  } catch {
    // A read is asked once more: the browser drops requests under way when the host's network
    // interfaces change (boot.js), as Docker's do for each container started or stopped.
    if (method !== "GET") throw new ApiError(0, { msg: NO_ANSWER });
    await new Promise((resolve) => setTimeout(resolve, 500));
    try {
      response = await send();
    } catch {
      throw new ApiError(0, { msg: NO_ANSWER });
    }
  }
  let answer;
  try {
    answer = await response.json();
  } catch {
    answer = { code: -1, msg: `unexpected answer (HTTP ${response.status})` };
  }
  if (answer.code === 0) return answer;
  const error = new ApiError(response.status, answer);
  const refused = [Codes.NOT_AUTHENTICATED, Codes.TOKEN_EXPIRED, Codes.FULL_TOKEN_REQUIRED];
  if (refused.includes(error.code) && token && token === session.token) {
    session.end();
    onSessionLost(error.code === Codes.TOKEN_EXPIRED
      ? "Your session has expired: log in again."
      : "Your session is not valid any more: log in again.");
  }
  throw error;
}
