// Staff tablet: log in, then show the store's pickup arrivals live over Socket.IO.
// On every (re)connect it reloads the open arrivals, so a tablet that slept catches up.
"use strict";

const TOKEN_KEY = "staff-session";
const $ = (id) => document.getElementById(id);
const cards = new Map(); // alert_id -> {li, arrivedAt}
let socket = null;

function session() {
  try { return JSON.parse(localStorage.getItem(TOKEN_KEY)); } catch { return null; }
}

async function api(path, options = {}) {
  const s = session();
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  if (s) headers.Authorization = `Bearer ${s.token}`;
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error ? body.error.message : response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function showLogin(message) {
  localStorage.removeItem(TOKEN_KEY);
  if (socket) { socket.disconnect(); socket = null; }
  cards.clear();
  $("arrivals").replaceChildren();
  $("board").hidden = true;
  $("who").hidden = $("logout").hidden = $("link").hidden = true;
  $("login").hidden = false;
  $("login-error").hidden = !message;
  $("login-error").textContent = message || "";
}

function showBoard() {
  const s = session();
  $("login").hidden = true;
  $("board").hidden = false;
  $("who").hidden = $("logout").hidden = $("link").hidden = false;
  $("who").textContent = `${s.staff.name} · ${s.staff.store_name}`;
  connect();
}

function formatWait(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

function beep() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    osc.frequency.value = 880;
    osc.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
  } catch { /* no audio on this device: the flash still shows */ }
}

function addArrival(a, isNew) {
  if (cards.has(a.alert_id)) return;
  const li = $("arrival-card").content.firstElementChild.cloneNode(true);
  li.dataset.alertId = a.alert_id;
  li.querySelector(".name").textContent = a.first_name;
  li.querySelector(".order").textContent = `#${a.order_number}`;
  li.querySelector(".where").textContent = a.where;
  for (const item of a.items) {
    const el = document.createElement("li");
    el.textContent = item.qty && item.qty > 1 ? `${item.qty} × ${item.name}` : item.name;
    li.querySelector(".items").append(el);
  }
  const conf = li.querySelector(".confidence");
  conf.textContent = `confidence ${Math.round(a.confidence * 100)} %`;
  const reasons = li.querySelector(".reasons");
  for (const r of a.reasons) {
    const el = document.createElement("li");
    el.textContent = `${r.signal} heard by ${r.gateway} at ${r.rssi} dBm`;
    reasons.append(el);
  }
  conf.addEventListener("click", () => {
    reasons.hidden = !reasons.hidden;
    conf.setAttribute("aria-expanded", String(!reasons.hidden));
  });
  if (isNew) { li.classList.add("new"); beep(); }
  cards.set(a.alert_id, { li, arrivedAt: a.arrived_at });
  $("arrivals").append(li);
  tick();
}

function tick() {
  const now = Date.now() / 1000;
  for (const { li, arrivedAt } of cards.values()) {
    li.querySelector(".wait").textContent = formatWait(now - arrivedAt);
  }
  $("empty").hidden = cards.size > 0;
}

async function catchUp() {
  const s = session();
  try {
    const body = await api(`/api/v1/stores/${s.staff.store_id}/arrivals`);
    for (const a of body.arrivals) addArrival(a, false);
  } catch (error) {
    if (error.status === 401) showLogin("Your session has ended. Please log in again.");
  }
}

function connect() {
  const s = session();
  socket = io({ transports: ["websocket"], auth: { token: s.token } });
  socket.on("connect", () => {
    $("link").dataset.state = "online";
    $("link").textContent = "live";
    catchUp();
  });
  socket.on("disconnect", () => {
    $("link").dataset.state = "offline";
    $("link").textContent = "offline";
  });
  socket.on("connect_error", () => {
    // A refused connection may be an expired session: the API call tells us which.
    catchUp();
  });
  socket.on("arrival", (a) => addArrival(a, true));
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const body = await api("/api/v1/auth/login", {
      method: "POST",
      body: JSON.stringify({ email: $("email").value, password: $("password").value }),
    });
    localStorage.setItem(TOKEN_KEY, JSON.stringify(body));
    $("password").value = "";
    showBoard();
  } catch (error) {
    showLogin(error.message);
  }
});

$("logout").addEventListener("click", async () => {
  await api("/api/v1/auth/logout", { method: "POST" }).catch(() => {});
  showLogin();
});

setInterval(tick, 1000);
if (session()) showBoard(); else showLogin();
