// api.js - the page's one way to the server: CloudAPI and the console's
// endpoints, with the session cookie (sent by the browser) and, on every
// request that changes something, the session's CSRF token.

let csrf = null;
export function setCsrf(t) {
  csrf = t;
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// Calls the API; resolves to the parsed JSON answer (null for none),
// rejects with ApiError carrying CloudAPI's code and message.
export async function api(method, path, body) {
  const headers = {Accept: "application/json"};
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;
  const opts = {method, headers, credentials: "same-origin", cache: "no-store"};
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const text = await r.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = text;
    }
  }
  if (!r.ok) {
    const msg = (data && data.message) || r.statusText || `HTTP ${r.status}`;
    throw new ApiError(r.status, data && data.code, msg, r.headers.get("Retry-After"));
  }
  return data;
}

export const enc = encodeURIComponent;
