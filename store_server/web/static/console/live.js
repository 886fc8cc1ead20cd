// Live: presence events and escalations over Socket.IO (window.io, a classic script), with a
// badge on the Live tab for escalations that arrive while another tab shows.
import { api, session } from "../api.js";
import { state } from "./state.js";
import { $, el, seconds, show, storePath } from "./util.js";

const FEED_LIMIT = 200;
const PRESENCE = {
  walk_by: "walked past",
  entered: "entered",
  zone_entered: "went to",
  zone_dwell: "spent time in",
  curbside: "is waiting at",
  exited: "left",
};

function addToFeed(list, emptyNote, item) {
  list.prepend(item);
  while (list.children.length > FEED_LIMIT) list.lastElementChild.remove();
  emptyNote.hidden = true;
}

function clock(ts) {
  return new Date(ts * 1000).toLocaleTimeString();
}

function onPresence(e) {
  const where = e.zone ? ` ${e.zone}` : "";
  const dwell = e.kind === "zone_dwell" && e.dwell_s ? ` for ${seconds(Math.round(e.dwell_s))}` : "";
  const item = el(
    "li",
    { class: "presence", dataset: { kind: e.kind } },
    el("time", { textContent: clock(e.at) }),
    el("span", { class: "what", textContent: `${e.first_name} ${PRESENCE[e.kind] || e.kind}${e.kind === "entered" ? "" : where}${dwell}` }),
    el("span", { class: "confidence", textContent: `confidence ${Math.round(e.confidence * 100)} %` }),
  );
  addToFeed($("presence"), $("presence-empty"), item);
}

function onArrival(a) {
  const item = el(
    "li",
    { class: "presence arrival", dataset: { kind: "arrival" } },
    el("time", { textContent: clock(a.arrived_at) }),
    el("span", { class: "what", textContent: `${a.first_name} arrived for pickup #${a.order_number} at ${a.where}` }),
  );
  addToFeed($("presence"), $("presence-empty"), item);
}

// On (re)connect: escalated pickups still waiting, so a console opened late misses none.
async function catchUpEscalations() {
  try {
    const { arrivals } = await api(storePath("/arrivals"));
    for (const a of arrivals) if (a.escalation_level > 0 && a.status === "raised") onEscalation(a, false);
  } catch { /* a 401 already shows the log-in */ }
}

// "I'll take it": the manager acknowledges the alert as the tablets' "On my way" does.
async function take(a, item) {
  try {
    onAlertUpdated(await api(storePath(`/alerts/${a.alert_id}/acknowledge`), { method: "POST", body: "{}" }));
  } catch (error) {
    item.querySelector(".level").textContent = error.message;
    item.querySelector(".take").hidden = true;
  }
}

function onEscalation(a, isNew = true) {
  const existing = $("escalations").querySelector(`[data-alert-id="${a.alert_id}"]`);
  // The escalation's own time, from the server: a console opened late shows when it happened.
  const at = a.escalated_at || a.arrived_at;
  const item = el(
    "li",
    { class: "escalation", dataset: { alertId: a.alert_id, status: a.status } },
    el("time", { dateTime: new Date(at * 1000).toISOString(), textContent: clock(at) }),
    el("span", { class: "what", textContent: `Nobody has gone to ${a.first_name} (order #${a.order_number}) at ${a.where}` }),
    el("span", { class: "level", textContent: `escalation ${a.escalation_level}` }),
  );
  const button = el("button", { class: "take", type: "button", textContent: "I'll take it" });
  button.addEventListener("click", () => take(a, item));
  button.hidden = a.status !== "raised";
  item.append(button);
  if (existing) existing.replaceWith(item);
  else addToFeed($("escalations"), $("escalations-empty"), item);
  if (isNew && $("live").hidden) show($("live-badge"), String(Number($("live-badge").textContent || 0) + 1));
}

function onAlertUpdated(a) {
  const item = $("escalations").querySelector(`[data-alert-id="${a.alert_id}"]`);
  if (!item) return;
  item.dataset.status = a.status;
  const words = { acknowledged: `${a.acknowledged_by} is on the way`, handed_over: "handed over", expired: "expired" };
  item.querySelector(".level").textContent = words[a.status] || `escalation ${a.escalation_level}`;
  item.querySelector(".take").hidden = a.status !== "raised";
}

export function connect() {
  const s = session();
  // The live feed of the store picked in the header (the server checks it is hers).
  const socket = window.io({ transports: ["websocket"], auth: { token: s.token, store_id: s.staff.store_id } });
  state.socket = socket;
  window.consoleSocket = socket; // lets tests force a reconnect
  socket.on("connect", () => {
    $("link").dataset.state = "online";
    $("link").textContent = "live";
    catchUpEscalations();
  });
  socket.on("disconnect", () => { $("link").dataset.state = "offline"; $("link").textContent = "offline"; });
  socket.on("connect_error", () => api(storePath("/layout")).catch(() => {})); // 401 shows the log-in
  socket.on("presence", onPresence);
  socket.on("arrival", onArrival);
  socket.on("alert_escalated", (a) => onEscalation(a));
  socket.on("alert_updated", onAlertUpdated);
}

export function disconnect() {
  if (state.socket) { state.socket.disconnect(); state.socket = null; }
}
