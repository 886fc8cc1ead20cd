// Staff tablet: shoppers who asked for help on the floor, live over the tablet's Socket.IO
// connection, with the pickup alerts' lifecycle: "On my way" (the first tablet wins, the
// shopper is told who is coming), "Helped" closes it; escalated ones say so. On every
// (re)connect the tablet reloads the open requests, so it catches up without duplicates.
import { api, session } from "./api.js";

const OPEN = new Set(["raised", "acknowledged"]);
const $ = (id) => document.getElementById(id);
const cards = new Map(); // request_id -> {li, request}
const hooks = { onNew: () => {}, onUnauthorized: () => {} };

function path(suffix) {
  return `/api/v1/stores/${session().staff.store_id}/help-requests${suffix}`;
}

function formatWait(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function cardError(li, message) {
  const el = li.querySelector(".card-error");
  el.hidden = !message;
  el.textContent = message || "";
}

function render(li, r) {
  li.dataset.status = r.status;
  li.dataset.escalated = String(r.escalation_level > 0);
  li.querySelector(".escalated").hidden = r.escalation_level === 0;
  const going = li.querySelector(".going");
  going.hidden = r.status !== "acknowledged";
  going.textContent = r.acknowledged_by ? `${r.acknowledged_by} is on the way` : "";
  li.querySelector(".ack").hidden = r.status !== "raised";
  li.querySelector(".close").hidden = !OPEN.has(r.status);
}

async function act(li, action) {
  try {
    upsert(await api(path(`/${li.dataset.requestId}/${action}`), { method: "POST", body: "{}" }), false);
    cardError(li, "");
  } catch (error) {
    cardError(li, error.message);
    if (error.status === 401) hooks.onUnauthorized();
    else catchUpHelp();
  }
}

function build(r) {
  const li = $("help-card").content.firstElementChild.cloneNode(true);
  li.dataset.requestId = r.request_id;
  li.querySelector(".name").textContent = r.first_name;
  li.querySelector(".where").textContent = r.where;
  li.querySelector(".ack").addEventListener("click", () => act(li, "acknowledge"));
  li.querySelector(".close").addEventListener("click", () => act(li, "close"));
  return li;
}

// One entry point for every request state the tablet learns, from events or from a reload.
function upsert(r, isNew) {
  const known = cards.get(r.request_id);
  if (!OPEN.has(r.status)) {
    if (known) { known.li.remove(); cards.delete(r.request_id); }
  } else if (known) {
    known.request = r;
    render(known.li, r);
  } else {
    const li = build(r);
    render(li, r);
    if (isNew) { li.classList.add("new"); hooks.onNew(); }
    cards.set(r.request_id, { li, request: r });
    $("help-requests").append(li);
  }
  tickHelp();
}

// Waiting times count up every second.
export function tickHelp() {
  const now = Date.now() / 1000;
  for (const { li, request } of cards.values()) {
    li.querySelector(".wait").textContent = formatWait(now - request.raised_at);
  }
  $("no-help").hidden = cards.size > 0;
}

// The open requests as the server has them: what the tablet missed is drawn, what closed goes.
export async function catchUpHelp() {
  try {
    const body = await api(path(""));
    const open = new Set(body.help_requests.map((r) => r.request_id));
    for (const [id, { li }] of cards) {
      if (!open.has(id)) { li.remove(); cards.delete(id); }
    }
    for (const r of body.help_requests) upsert(r, false);
  } catch (error) {
    if (error.status === 401) hooks.onUnauthorized();
  }
}

export function clearHelp() {
  cards.clear();
  $("help-requests").replaceChildren();
}

// Listen on the tablet's socket; `onNew` sounds the alert, `onUnauthorized` logs out.
export function watchHelp(socket, { onNew, onUnauthorized }) {
  hooks.onNew = onNew;
  hooks.onUnauthorized = onUnauthorized;
  socket.on("help_request", (r) => upsert(r, true));
  socket.on("help_updated", (r) => upsert(r, false));
}
