// Manager console: campaigns (create, edit, pause), results (the report), the store layout
// (zones, gateways with calibration, beacons), the store's settings and staff accounts, and a
// live feed of presence events and
// escalations over Socket.IO. The API validates; this page only translates between plain words
// and the API's fields, and shows each field's error next to it.
// This module wires the parts together: log-in, tabs, and each part's own wiring.
import { api, apiAuth, logIn, session } from "../api.js";
import { loadCampaigns, wireCampaigns } from "./campaigns.js";
import { loadLayout, wireLayout } from "./layout.js";
import { connect, disconnect } from "./live.js";
import { loadEscalationChannel, wireEscalationChannel } from "./notify.js";
import { loadReport, wireReport } from "./report.js";
import { loadStore, wireStore } from "./store.js";
import { state } from "./state.js";
import { $, show } from "./util.js";

const TOKEN_KEY = "console-session";
// Managers run the console at the stores assigned to them, admins at every store of the chain.
const CONSOLE_ROLES = ["manager", "admin"];

// api.js's session() and api() use the console's log-in; a request that finds it ended asks
// for a new one.
apiAuth.sessionKey = TOKEN_KEY;
apiAuth.onUnauthorized = () => showLogin("Your session has ended. Please log in again.");

// ---------- login and tabs ----------

function showLogin(message) {
  localStorage.removeItem(TOKEN_KEY);
  disconnect();
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = true;
  $("tabs").hidden = $("who").hidden = $("logout").hidden = $("link").hidden = true;
  $("store-pick").hidden = true;
  $("login").hidden = false;
  show($("login-error"), message);
}

function showConsole() {
  const s = session();
  $("login").hidden = true;
  $("tabs").hidden = $("who").hidden = $("logout").hidden = $("link").hidden = false;
  $("who").textContent = `${s.staff.name} · ${s.staff.store_name}`;
  showStorePicker(s.staff);
  selectTab(location.hash.slice(1) || "campaigns");
  loadLayout().then(loadCampaigns);
  loadEscalationChannel();
  connect(() => showLogin("You no longer manage this store. Log in again to see your stores."));
}

// A manager of several stores (an admin: every store of her chain) picks the one the console
// shows; the choice is kept with the log-in, and every part reloads for that store.
function showStorePicker(staff) {
  const pick = $("store-pick");
  const stores = staff.stores || [];
  pick.hidden = stores.length < 2;
  pick.replaceChildren(...stores.map((store) => new Option(store.name, String(store.id), false, store.id === staff.store_id)));
}

$("store-pick").addEventListener("change", () => {
  const s = session();
  const chosen = s.staff.stores.find((store) => String(store.id) === $("store-pick").value);
  if (!chosen) return;
  s.staff.store_id = chosen.id;
  s.staff.store_name = chosen.name;
  localStorage.setItem(TOKEN_KEY, JSON.stringify(s));
  location.reload();
});

function selectTab(name) {
  if (!$(`tab-${name}`)) name = "campaigns";
  for (const tab of $("tabs").querySelectorAll("[role=tab]")) {
    const selected = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(selected));
    $(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  if (location.hash.slice(1) !== name) history.replaceState(null, "", `#${name}`);
  if (name === "results") loadReport();
  if (name === "store") loadStore();
  // Not reloaded on every visit: a re-render would wipe what the manager is typing there.
  if (name === "layout" && !state.layoutLoaded) loadLayout();
  if (name === "live") show($("live-badge"), "");
}

for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
  tab.addEventListener("click", () => selectTab(tab.id.slice(4)));
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const body = await logIn();
    $("password").value = "";
    if (!CONSOLE_ROLES.includes(body.staff.role)) {
      fetch("/api/v1/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${body.token}` } });
      showLogin("This console is for managers; staff use the tablet page (/staff).");
      return;
    }
    localStorage.setItem(TOKEN_KEY, JSON.stringify(body));
    showConsole();
  } catch (error) {
    showLogin(error.message);
  }
});

$("logout").addEventListener("click", async () => {
  await api("/api/v1/auth/logout", { method: "POST" }).catch(() => {});
  showLogin();
});

wireCampaigns();
wireReport();
wireLayout();
wireEscalationChannel();
wireStore();
window.addEventListener("hashchange", () => { if (session()) selectTab(location.hash.slice(1)); });
if (session() && CONSOLE_ROLES.includes(session().staff.role)) showConsole(); else showLogin();
