// The JSON API helpers the shopper page, the staff tablet and the manager console share. An ES
// module: each page's module imports it (`import { api } from "./api.js"`) and then fills in
// `apiAuth` (where its credentials live, what a 401 means there).

export const apiAuth = {
  sessionKey: null, // where a staff page keeps its log-in ({token, staff}) in localStorage
  bearer: () => { const s = session(); return s ? s.token : null; }, // the token a request sends
  onUnauthorized: null, // called on a 401, before the error is thrown
};

// The staff log-in as /api/v1/auth/login answered it, or null.
export function session() {
  try { return JSON.parse(localStorage.getItem(apiAuth.sessionKey)); } catch { return null; }
}

// A JSON request; an error answer throws an Error with the API's message, status, code,
// details and field errors (`details.fields`).
export async function api(path, options = {}) {
  const token = apiAuth.bearer();
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error ? body.error.message : response.statusText);
    error.status = response.status;
    error.code = body.error && body.error.code;
    error.fields = (body.error && body.error.details && body.error.details.fields) || [];
    error.details = (body.error && body.error.details) || {};
    if (response.status === 401 && apiAuth.onUnauthorized) apiAuth.onUnauthorized();
    throw error;
  }
  return body;
}
