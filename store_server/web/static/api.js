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

// Log in with the form both staff pages include (_login.html). The same e-mail may be an
// account at several chains: when the password opens more than one, the server answers
// `409 choose_chain` with them; the form then shows a chain to choose, and the next submit
// sends it (`chain_id`). Returns the log-in; throws the API's error otherwise.
export async function logIn() {
  const field = (id) => document.getElementById(id);
  const pick = field("login-chain");
  const email = field("email").value;
  const body = { email, password: field("password").value };
  // A chain chosen for another address means nothing for this one.
  if (!field("login-chain-field").hidden && pick.dataset.email === email) body.chain_id = Number(pick.value);
  try {
    const answer = await api("/api/v1/auth/login", { method: "POST", body: JSON.stringify(body) });
    field("login-chain-field").hidden = true;
    pick.replaceChildren();
    return answer;
  } catch (error) {
    if (error.code === "choose_chain") {
      pick.replaceChildren(...error.details.chains.map((chain) => new Option(chain.name, String(chain.id))));
      pick.dataset.email = email;
      field("login-chain-field").hidden = false;
    }
    throw error;
  }
}
