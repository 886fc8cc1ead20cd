// Staff tablet: log in, then show the store's pickup arrivals and help requests
// (staff_help.js) live over Socket.IO, act on them, and redeem coupons at the till. On every
// (re)connect it reloads the open arrivals and requests, so a tablet that slept catches up
// without duplicates.
// An ES module (modules are strict); Socket.IO's client is a classic script before it (window.io).
import { api, apiAuth, logIn, session } from "./api.js";
import { catchUpHelp, clearHelp, tickHelp, watchHelp } from "./staff_help.js";

const TOKEN_KEY = "staff-session";
// The store this tablet works at, per staffer: kept on the device across log-ins.
const STORE_KEY = (staffId) => `staff-store:${staffId}`;
const OPEN = new Set(["raised", "acknowledged"]);
const $ = (id) => document.getElementById(id);
const cards = new Map(); // alert_id -> {li, arrival}
const state = { socket: null }; // the live connection while logged in
apiAuth.sessionKey = TOKEN_KEY; // for api.js's session() and api()

function showLogin(message) {
  localStorage.removeItem(TOKEN_KEY);
  if (state.socket) { state.socket.disconnect(); state.socket = null; }
  cards.clear();
  $("arrivals").replaceChildren();
  clearHelp();
  $("board").hidden = true;
  $("who").hidden = $("logout").hidden = $("link").hidden = $("store-pick").hidden = true;
  $("login").hidden = false;
  $("login-error").hidden = !message;
  $("login-error").textContent = message || "";
}

function showBoard() {
  const s = session();
  // The store last chosen on this tablet, while it is still one of hers; else where she opens.
  const remembered = (s.staff.stores || []).find((store) => String(store.id) === localStorage.getItem(STORE_KEY(s.staff.id)));
  if (remembered) useStore(s, remembered);
  $("login").hidden = true;
  $("board").hidden = false;
  $("who").hidden = $("logout").hidden = $("link").hidden = false;
  showStorePicker(session().staff);
  $("scan").hidden = !(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  connect();
}

// Keep the store in the log-in the API calls and the Socket.IO connection use.
function useStore(s, store) {
  s.staff.store_id = store.id;
  s.staff.store_name = store.name;
  localStorage.setItem(TOKEN_KEY, JSON.stringify(s));
  $("who").textContent = `${s.staff.name} · ${store.name}`;
}

// A staffer of several stores picks the one this tablet serves.
function showStorePicker(staff) {
  const pick = $("store-pick");
  $("who").textContent = `${staff.name} · ${staff.store_name}`;
  const stores = staff.stores || [];
  pick.hidden = stores.length < 2;
  pick.replaceChildren(...stores.map((store) => new Option(store.name, String(store.id), false, store.id === staff.store_id)));
}

// Switching store: remembered on the device; the board empties, and a new connection joins
// the chosen store's rooms (the old one, and its rooms, end).
$("store-pick").addEventListener("change", () => {
  const s = session();
  const chosen = s.staff.stores.find((store) => String(store.id) === $("store-pick").value);
  if (!chosen) return;
  localStorage.setItem(STORE_KEY(s.staff.id), String(chosen.id));
  useStore(s, chosen);
  if (state.socket) { state.socket.disconnect(); state.socket = null; }
  for (const { li } of cards.values()) li.remove();
  cards.clear();
  clearHelp();
  tick();
  connect();
});

function formatWait(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
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

function storePath(suffix) {
  return `/api/v1/stores/${session().staff.store_id}${suffix}`;
}

function cardError(li, message) {
  const el = li.querySelector(".card-error");
  el.hidden = !message;
  el.textContent = message || "";
}

function buildCard(a) {
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
    el.textContent = r.gateway
      ? `${r.signal} heard by ${r.gateway} at ${r.rssi} dBm`
      : `${r.signal}${r.detail ? `: ${r.detail}` : ""}`;
    reasons.append(el);
  }
  conf.addEventListener("click", () => {
    reasons.hidden = !reasons.hidden;
    conf.setAttribute("aria-expanded", String(!reasons.hidden));
  });
  li.querySelector(".ack").addEventListener("click", () => act(li, "acknowledge"));
  li.querySelector(".handover").addEventListener("click", () => act(li, "handover"));
  li.querySelector(".exchange-toggle").addEventListener("click", () => {
    const form = li.querySelector(".exchange");
    form.hidden = !form.hidden;
  });
  li.querySelector(".exchange").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const { order_id } = cards.get(Number(li.dataset.alertId)).arrival;
    try {
      await api(storePath(`/orders/${order_id}/exchanges`), {
        method: "POST",
        body: JSON.stringify({ kind: form.kind.value, note: form.note.value }),
      });
      form.hidden = true;
      form.note.value = "";
      cardError(li, "");
    } catch (error) { cardError(li, error.message); }
  });
  return li;
}

function render(li, a) {
  li.dataset.status = a.status;
  li.dataset.escalated = String(a.escalation_level > 0);
  li.querySelector(".escalated").hidden = a.escalation_level === 0;
  const going = li.querySelector(".going");
  going.hidden = a.status !== "acknowledged";
  going.textContent = a.acknowledged_by ? `${a.acknowledged_by} is on the way` : "";
  li.querySelector(".ack").hidden = a.status !== "raised";
  li.querySelector(".handover").hidden = !OPEN.has(a.status);
  li.querySelector(".exchange-toggle").hidden = !OPEN.has(a.status);
}

// One entry point for every arrival state we learn about, from events or from a reload.
function upsert(a, isNew) {
  const known = cards.get(a.alert_id);
  if (!OPEN.has(a.status)) {
    if (known) { known.li.remove(); cards.delete(a.alert_id); }
    tick();
    return;
  }
  if (known) {
    known.arrival = a;
    render(known.li, a);
  } else {
    const li = buildCard(a);
    render(li, a);
    if (isNew) { li.classList.add("new"); beep(); }
    cards.set(a.alert_id, { li, arrival: a });
    $("arrivals").append(li);
  }
  tick();
}

async function act(li, action) {
  const alertId = Number(li.dataset.alertId);
  try {
    upsert(await api(storePath(`/alerts/${alertId}/${action}`), { method: "POST", body: "{}" }), false);
    cardError(li, "");
  } catch (error) {
    cardError(li, error.message);
    if (error.status === 401) showLogin("Your session has ended. Please log in again.");
    else catchUp();
  }
}

function tick() {
  const now = Date.now() / 1000;
  for (const { li, arrival } of cards.values()) {
    li.querySelector(".wait").textContent = formatWait(now - arrival.arrived_at);
  }
  $("empty").hidden = cards.size > 0;
  tickHelp();
}

// Reload the open arrivals; whether the store is still hers to serve.
async function catchUp() {
  try {
    const body = await api(storePath("/arrivals"));
    const open = new Set(body.arrivals.map((a) => a.alert_id));
    for (const [id, { li }] of cards) {
      if (!open.has(id)) { li.remove(); cards.delete(id); }
    }
    for (const a of body.arrivals) upsert(a, false);
    return true;
  } catch (error) {
    if (error.status === 401) showLogin("Your session has ended. Please log in again.");
    // Her stores changed (a manager took this one away): a new log-in lists the ones she has.
    if (error.status === 403) showLogin("You no longer work at this store. Log in again to see your stores.");
    return false;
  }
}

function connect() {
  const s = session();
  const socket = window.io({ transports: ["websocket"], auth: { token: s.token, store_id: s.staff.store_id } });
  state.socket = socket;
  window.staffSocket = socket; // lets tests (and support staff) force a reconnect
  socket.on("connect", () => {
    $("link").dataset.state = "online";
    $("link").textContent = "live";
    catchUp();
    catchUpHelp();
  });
  socket.on("disconnect", (reason) => {
    $("link").dataset.state = "offline";
    $("link").textContent = "offline";
    // The server ended the connection (her role or stores changed, or her session): still
    // hers, the tablet connects again and joins the rooms her access gives now.
    if (reason === "io server disconnect") {
      catchUp().then((ok) => { if (ok && state.socket === socket) socket.connect(); });
    }
  });
  socket.on("connect_error", () => catchUp()); // an expired session shows as 401 there
  socket.on("arrival", (a) => upsert(a, true));
  socket.on("alert_updated", (a) => upsert(a, false));
  watchHelp(socket, {
    onNew: beep,
    onUnauthorized: () => showLogin("Your session has ended. Please log in again."),
  });
}

async function redeem(raw) {
  const result = $("redeem-result");
  try {
    const body = await api(storePath("/redemptions"), {
      method: "POST", body: JSON.stringify({ code: raw }),
    });
    result.dataset.ok = "true";
    result.textContent = `Redeemed: ${body.coupon.offer}`;
    $("code").value = "";
  } catch (error) {
    result.dataset.ok = "false";
    result.textContent = error.code === "already_redeemed" && error.details && error.details.redeemed_at
      ? `Already used on ${new Date(error.details.redeemed_at * 1000).toLocaleString()}`
      : error.message;
    if (error.status === 401) showLogin("Your session has ended. Please log in again.");
  }
  result.hidden = false;
}

// The browser's own BarcodeDetector where it reads QR codes (Chrome on Android, macOS, ChromeOS);
// elsewhere (Safari, Firefox, desktop Chrome on Linux and Windows) the npm ponyfill, a
// classic script loaded on first use, whose ZXing WebAssembly is served by this server too.
async function qrDetector() {
  const native = "BarcodeDetector" in window
    && (await window.BarcodeDetector.getSupportedFormats().catch(() => [])).includes("qr_code");
  if (native) return new window.BarcodeDetector({ formats: ["qr_code"] });
  if (!window.BarcodeDetectionAPI) {
    await new Promise((resolve, reject) => {
      const script = Object.assign(document.createElement("script"), { src: "/vendor/barcode-detector.js" });
      script.onload = resolve;
      script.onerror = () => reject(new Error("the QR reader did not load"));
      document.head.append(script);
    });
    window.BarcodeDetectionAPI.prepareZXingModule({
      overrides: { locateFile: (file, prefix) => (file.endsWith(".wasm") ? `/vendor/${file}` : prefix + file) },
    });
  }
  return new window.BarcodeDetectionAPI.BarcodeDetector({ formats: ["qr_code"] });
}

async function scan() {
  const video = $("camera");
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  const detector = await qrDetector();
  const stop = () => { stream.getTracks().forEach((t) => t.stop()); video.hidden = true; };
  const look = async () => {
    const codes = await detector.detect(video).catch(() => []);
    if (codes.length) { stop(); redeem(codes[0].rawValue); } else if (!video.hidden) requestAnimationFrame(look);
  };
  look();
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const body = await logIn();
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

$("redeem").addEventListener("submit", (event) => { event.preventDefault(); redeem($("code").value); });
$("scan").addEventListener("click", () => scan().catch((e) => {
  $("redeem-result").hidden = false;
  $("redeem-result").dataset.ok = "false";
  $("redeem-result").textContent = `Camera unavailable: ${e.message}`;
}));

setInterval(tick, 1000);
if (session()) showBoard(); else showLogin();
