// Live: presence events and escalations (pickups and help requests) over Socket.IO (window.io, a classic script), with a
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

// The two things that escalate to managers: a pickup nobody has gone to, and a shopper's
// help request nobody has answered. One feed, one "I'll take it", as the tablets acknowledge.
const KINDS = {
  pickup: {
    id: (a) => a.alert_id,
    raisedAt: (a) => a.arrived_at,
    what: (a) => `Nobody has gone to ${a.first_name} (order #${a.order_number}) at ${a.where}`,
    acknowledge: (a) => storePath(`/alerts/${a.alert_id}/acknowledge`),
    done: { handed_over: "handed over", expired: "expired" },
  },
  help: {
    id: (r) => r.request_id,
    raisedAt: (r) => r.raised_at,
    what: (r) => `Nobody has gone to ${r.first_name}, who asked for help at ${r.where}`,
    acknowledge: (r) => storePath(`/help-requests/${r.request_id}/acknowledge`),
    done: { closed: "helped", expired: "expired" },
  },
};

function findEscalation(kind, x) {
  return $("escalations").querySelector(`[data-kind="${kind}"][data-id="${KINDS[kind].id(x)}"]`);
}

// On (re)connect: escalated pickups and help requests still waiting, so a console opened late
// misses none.
async function catchUpEscalations() {
  try {
    const { arrivals } = await api(storePath("/arrivals"));
    for (const a of arrivals) if (a.escalation_level > 0 && a.status === "raised") onEscalation("pickup", a, false);
    const { help_requests: requests } = await api(storePath("/help-requests"));
    for (const r of requests) if (r.escalation_level > 0 && r.status === "raised") onEscalation("help", r, false);
  } catch { /* a 401 already shows the log-in */ }
}

// "I'll take it": the manager acknowledges as the tablets' "On my way" does.
async function take(kind, x, item) {
  try {
    onUpdated(kind, await api(KINDS[kind].acknowledge(x), { method: "POST", body: "{}" }));
  } catch (error) {
    item.querySelector(".level").textContent = error.message;
    item.querySelector(".take").hidden = true;
  }
}

function onEscalation(kind, x, isNew = true) {
  const existing = findEscalation(kind, x);
  // The escalation's own time, from the server: a console opened late shows when it happened.
  const at = x.escalated_at || KINDS[kind].raisedAt(x);
  const item = el(
    "li",
    { class: "escalation", dataset: { kind, id: KINDS[kind].id(x), status: x.status } },
    el("time", { dateTime: new Date(at * 1000).toISOString(), textContent: clock(at) }),
    el("span", { class: "what", textContent: KINDS[kind].what(x) }),
    el("span", { class: "level", textContent: `escalation ${x.escalation_level}` }),
  );
  const button = el("button", { class: "take", type: "button", textContent: "I'll take it" });
  button.addEventListener("click", () => take(kind, x, item));
  button.hidden = x.status !== "raised";
  item.append(button);
  if (existing) existing.replaceWith(item);
  else addToFeed($("escalations"), $("escalations-empty"), item);
  if (isNew && $("live").hidden) show($("live-badge"), String(Number($("live-badge").textContent || 0) + 1));
}

function onUpdated(kind, x) {
  const item = findEscalation(kind, x);
  if (!item) return;
  item.dataset.status = x.status;
  const words = { acknowledged: `${x.acknowledged_by} is on the way`, ...KINDS[kind].done };
  item.querySelector(".level").textContent = words[x.status] || `escalation ${x.escalation_level}`;
  item.querySelector(".take").hidden = x.status !== "raised";
}

// Whether the console is still hers at this store (a manager's read): a 401 already shows the
// log-in (api.js); a 403, her role or stores changed, calls `refused`.
async function stillMine(refused) {
  try {
    await api(storePath("/escalation-channel"));
    return true;
  } catch (error) {
    if (error.status === 403) refused();
    return false;
  }
}

// The live feed; `refused` is called when the server says the store is no longer hers to manage.
export function connect(refused) {
  const s = session();
  // The live feed of the store picked in the header (the server checks it is hers).
  // The presence feed is asked for: the store's tablets are not sent it.
  const socket = window.io({
    transports: ["websocket"],
    auth: { token: s.token, store_id: s.staff.store_id, feeds: ["presence"] },
  });
  state.socket = socket;
  window.consoleSocket = socket; // lets tests force a reconnect
  socket.on("connect", () => {
    $("link").dataset.state = "online";
    $("link").textContent = "live";
    catchUpEscalations();
  });
  socket.on("disconnect", (reason) => {
    $("link").dataset.state = "offline";
    $("link").textContent = "offline";
    // The server ended the connection (her role or stores changed, or her session): while the
    // store is still hers the console connects again, joins the rooms her access gives now and
    // catches up; else it says why and asks for a new log-in. Other causes (the network, a
    // restart) reconnect by themselves.
    if (reason === "io server disconnect") {
      stillMine(refused).then((ok) => { if (ok && state.socket === socket) socket.connect(); });
    }
  });
  socket.on("connect_error", () => stillMine(refused)); // an ended session or access shows there
  socket.on("presence", onPresence);
  socket.on("arrival", onArrival);
  socket.on("alert_escalated", (a) => onEscalation("pickup", a));
  socket.on("alert_updated", (a) => onUpdated("pickup", a));
  socket.on("help_escalated", (r) => onEscalation("help", r));
  socket.on("help_updated", (r) => onUpdated("help", r));
}

export function disconnect() {
  if (state.socket) { state.socket.disconnect(); state.socket = null; }
}
