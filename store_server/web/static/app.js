// The shopper's page: join with explicit consents, then pickups ("Sam is on the way"), "I'm
// here", "Ask for help" (and who is coming), the inbox of offers, coupons with a live
// countdown, the survey, notifications (Web Push through /sw.js), offers and arrival alerts on
// or off, pause and resume, and download / erase; the store's phone and web page at the foot.
// The page renders what it shows from the server's state, fetched on load, on every Socket.IO
// (re)connect and after every live event: a reload or a dropped network never loses or
// duplicates an order, a message, a coupon, a help request or a survey, and events missed
// while offline are caught up.
// The device token arrives in the URL fragment (never sent to a server log) or from joining.
// An ES module (modules are strict); Socket.IO's client is a classic script before it (window.io).
import { api, apiAuth } from "./api.js";

const TOKEN_KEY = "shopper-device";
const MESSAGE_ID = /^[0-9a-f]{32}$/;
const $ = (id) => document.getElementById(id);
const storeId = Number(new URLSearchParams(location.search).get("store") || 1);
// Service workers need a secure context (https, or http on localhost); without one, or on a
// browser without the Push API, the page works as before without notifications.
const pushSupported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
// Where the service worker finds the device token (sw.js reads the same names).
const WORKER_CACHE = "shopper";
const WORKER_TOKEN_ENTRY = "/sw/device-token";
// What the page knows, in one place. `socket` is also window.socket (tests feed it events).
const state = {
  currency: null, // ISO 4217, when the store says
  coupons: [],
  inbox: [], // kept messages, as GET /api/v1/me/inbox says (one entry per message id)
  help: [], // open help requests, as GET /api/v1/me/help-requests says
  pickups: [], // one entry per order, as GET /api/v1/me/pickups says
  surveys: [], // unanswered surveys, as GET /api/v1/me/surveys says
  answered: new Set(), // survey ids answered here (a refresh begun earlier may still list them)
  survey: null, // the survey the form shows: the oldest pending one of this store
  score: null, // the survey score picked
  me: null, // the profile: consents and the pause
  refreshes: 0, // refreshes begun, numbered
  drawn: 0, // the number of the refresh drawn last: an older answer never replaces it
  changing: 0, // the shopper's own changes of her choices or pause still in flight
  socket: null, // the live connection while joined
  pendingClaim: null, // a claim link's token, posted once the phone has joined
  recovery: null, // a recovery link's token (`#recover=...`), used when she picks what to do
};

function setSocket(socket) {
  state.socket = socket;
  window.socket = socket;
}

function token() { return localStorage.getItem(TOKEN_KEY); }
apiAuth.bearer = token; // api.js sends the device token as it is stored

// The fragment may carry the device token (`#device=...`) and an order's claim link
// (`#claim=...`, from the order's "ready for pickup" message); neither is ever sent in a URL.
function adoptFragment() {
  const device = location.hash.match(/device=([\w-]+)/);
  const claim = location.hash.match(/claim=([\w.-]+)/);
  const recover = location.hash.match(/recover=([\w.-]+)/);
  if (device) localStorage.setItem(TOKEN_KEY, device[1]);
  if (claim) state.pendingClaim = claim[1];
  if (recover) showRecovery(recover[1]);
  if (device || claim || recover) history.replaceState(null, "", location.pathname + location.search); // keep them out of history
}

const RECOVERY_FAILURES = {
  recovery_expired: "This link has expired: ask for a new one below.",
  recovery_invalid: "This link is not valid: ask for a new one below.",
  recovery_used: "This link was already used: ask for a new one below.",
};

// A recovery link (sent to her e-mail or phone): she picks a new phone or erasure.
function showRecovery(token) {
  state.recovery = token;
  $("recover").hidden = false;
  $("recover-result").hidden = true;
}

async function useRecovery(path) {
  const result = $("recover-result");
  try {
    const body = await api(path, { method: "POST", body: JSON.stringify({ token: state.recovery }) });
    state.recovery = null;
    $("recover").hidden = true;
    if (body.device_token) {
      localStorage.setItem(TOKEN_KEY, body.device_token);
      await showMe();
    } else {
      forget("Everything about you was erased.");
    }
  } catch (error) {
    result.textContent = RECOVERY_FAILURES[error.code] || error.message;
    result.classList.add("error");
    result.hidden = false;
  }
}

const CLAIM_FAILURES = {
  claim_expired: "This pickup link has expired. Tell a staff member when you arrive, or ask the shop for a new link.",
  claim_invalid: "This pickup link is not valid for this store. Check you opened the link from your order's message, or tell a staff member when you arrive.",
  claim_taken: "This order is already linked to another phone. Tell a staff member when you arrive.",
  no_consent: "Tick \"Tell the staff when I arrive\" to link your order to this phone.",
};

// Link the order of a claim link to this phone (the token goes in the body, never a URL).
async function claimPendingOrder() {
  const token = state.pendingClaim;
  if (!token) return;
  state.pendingClaim = null;
  const result = $("claim-result");
  try {
    const body = await api("/api/v1/me/claims", { method: "POST", body: JSON.stringify({ store_id: storeId, token }) });
    result.textContent = `Order ${body.order_number} is linked to this phone: tap "I'm here" when you arrive.`;
    result.classList.remove("error");
  } catch (error) {
    result.textContent = CLAIM_FAILURES[error.code] || error.message;
    result.classList.add("error");
  }
  result.hidden = false;
}

function forget(message) {
  localStorage.removeItem(TOKEN_KEY);
  if (pushSupported) shareTokenWithWorker(null).catch(() => {});
  if (state.socket) { state.socket.disconnect(); setSocket(null); }
  $("me").hidden = true;
  $("join").hidden = false;
  $("lost").hidden = false;
  $("join-error").hidden = !message;
  $("join-error").textContent = message || "";
}

function remaining(seconds) {
  if (seconds <= 0) return "expired";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  if (h >= 48) return `valid for ${Math.floor(h / 24)} days`;
  return `expires in ${h ? `${h} h ` : ""}${m} min ${String(s).padStart(2, "0")} s`;
}

// Amounts are in the currency's minor units; without a known currency, a plain number.
function money(minorUnits) {
  if (state.currency) {
    try {
      const format = new Intl.NumberFormat(undefined, { style: "currency", currency: state.currency });
      return format.format(minorUnits / 10 ** format.resolvedOptions().maximumFractionDigits);
    } catch { /* an unknown currency code */ }
  }
  return (minorUnits / 100).toFixed(2);
}

function couponTerms(c) {
  const parts = [];
  if (c.amount_off_cents) parts.push(`${money(c.amount_off_cents)} off`);
  if (c.product_scope) parts.push(c.product_scope);
  return parts.join(" · ");
}

function couponState(c, now) {
  return c.redeemed_at ? "used" : (c.expires_at <= now ? "expired" : "live");
}

// Built when the coupons change; only the countdowns change every second.
function renderCoupons() {
  const list = $("coupons");
  list.replaceChildren();
  const now = Date.now() / 1000;
  for (const c of state.coupons) {
    const li = $("coupon-card").content.firstElementChild.cloneNode(true);
    li.querySelector(".offer").textContent = c.offer;
    const terms = couponTerms(c);
    li.querySelector(".terms").textContent = terms;
    li.querySelector(".terms").hidden = !terms;
    li.querySelector(".code").textContent = `${c.code.slice(0, 5)}-${c.code.slice(5)}`;
    if (c.qr_png && couponState(c, now) === "live") {
      li.querySelector(".qr").src = c.qr_png;
      li.querySelector(".qr").hidden = false;
    }
    list.append(li);
  }
  $("no-coupons").hidden = state.coupons.length > 0;
  tickCoupons();
}

function tickCoupons() {
  const now = Date.now() / 1000;
  const items = $("coupons").children;
  state.coupons.forEach((c, index) => {
    const state = couponState(c, now);
    items[index].dataset.state = state;
    items[index].querySelector(".countdown").textContent =
      state === "used" ? "used" : remaining(c.expires_at - now);
    if (state !== "live") items[index].querySelector(".qr").hidden = true;
  });
}

const STAGE_TEXT = {
  preparing: () => "being prepared",
  ready: () => "ready to collect",
  arrived: () => "we know you're here",
  on_the_way: (p) => `${p.staff_on_the_way} is on the way`,
  handed_over: () => "handed over to you",
};

function pickupText(p) {
  const text = STAGE_TEXT[p.stage] || (() => p.status);
  return `Order ${p.order_number}: ${text(p)}`;
}

// A thank-you stays in the banner this long after a handover; the order's line says it longer.
const THANKS_SHOWN_S = 3600;

function liveText(pickups, now) {
  const coming = pickups.find((p) => p.stage === "on_the_way");
  if (coming) return `${coming.staff_on_the_way} is on the way`;
  const collected = pickups.some((p) => p.stage === "handed_over" && now - p.handed_over_at < THANKS_SHOWN_S);
  return collected ? "Thank you for collecting your order!" : "";
}

function renderPickups() {
  $("pickups").replaceChildren(...state.pickups.map((p) => {
    const li = document.createElement("li");
    li.dataset.order = String(p.order_id);
    li.dataset.stage = p.stage;
    li.textContent = pickupText(p);
    return li;
  }));
  $("no-pickups").hidden = state.pickups.length > 0;
  $("live").textContent = liveText(state.pickups, Date.now() / 1000);
}

// The form shows one survey: the oldest unanswered one of this store.
function renderSurvey() {
  const next = state.surveys.find((s) => s.store_id === storeId && !state.answered.has(s.id)) || null;
  if (!next) { state.survey = null; $("survey").hidden = true; return; }
  if (!state.survey || state.survey.id !== next.id) {
    state.survey = next;
    state.score = null;
    for (const b of document.querySelectorAll(".scale button")) b.setAttribute("aria-checked", "false");
    $("survey-comment").value = "";
    $("survey-error").hidden = true;
  }
  $("survey-question").textContent = next.question;
  $("survey").dataset.survey = String(next.id);
  $("survey").hidden = false;
  $("survey-thanks").hidden = true;
}

// The inbox: this store's kept messages, newest first; shown means seen.
function renderInbox() {
  const mine = state.inbox.filter((e) => e.store_id === storeId);
  $("inbox").replaceChildren(...mine.map((entry) => {
    const li = $("inbox-entry").content.firstElementChild.cloneNode(true);
    li.dataset.message = entry.message.id;
    li.dataset.seen = String(entry.seen);
    li.querySelector(".title").textContent = entry.message.title;
    li.querySelector(".body").textContent = entry.message.body;
    return li;
  }));
  $("no-inbox").hidden = mine.length > 0;
  for (const entry of mine) {
    if (!entry.seen) { markSeen(entry.message.id); entry.seen = true; }
  }
}

// A live message joins the inbox at once; the same id from a later fetch replaces it.
function keepMessage(message) {
  if (!message || typeof message.id !== "string") return;
  if (state.inbox.some((e) => e.message.id === message.id)) return;
  state.inbox = [{ store_id: storeId, sent_at: Date.now() / 1000, seen: false, message }, ...state.inbox];
  renderInbox();
}

function helpText(h) {
  if (h.status === "acknowledged" && h.staff_on_the_way) return `${h.staff_on_the_way} is on the way to you.`;
  const where = h.where === "at the store" ? "" : ` at ${h.where}`;
  return `We've told the staff: someone will come to you${where}.`;
}

function renderHelp() {
  const open = state.help.find((h) => h.store_id === storeId) || null;
  $("help-status").hidden = !open;
  $("help-status").textContent = open ? helpText(open) : "";
  $("help-status").dataset.status = open ? open.status : "";
  $("ask-help").disabled = Boolean(open);
}

// Everything the page shows, fetched again: on load, on every (re)connect and after each event.
async function refresh() {
  const mine = ++state.refreshes;
  const [me, pickups, coupons, surveys, inbox, help] = await Promise.all([
    api("/api/v1/me"), api("/api/v1/me/pickups"), api("/api/v1/me/coupons"), api("/api/v1/me/surveys"),
    api("/api/v1/me/inbox"), api("/api/v1/me/help-requests"),
  ]);
  if (mine < state.drawn) return false; // a later refresh already drew newer state
  state.drawn = mine;
  // While her own change is in flight this answer may predate it: the box she just ticked
  // must not flip back under her finger (the change draws the choices when it ends).
  if (!state.changing) state.me = me;
  state.pickups = pickups.pickups;
  state.coupons = coupons.coupons;
  state.surveys = surveys.surveys;
  state.inbox = inbox.messages;
  state.help = help.help_requests;
  renderPickups();
  renderCoupons();
  renderSurvey();
  if (!state.changing) renderChoices();
  renderInbox();
  renderHelp();
  return true;
}

// The page's own change is newer than any refresh still in flight: those may have read the
// store before the change committed, so none of them may draw over it.
function supersedeRefreshes() {
  state.drawn = ++state.refreshes;
}

// One change of her choices or pause: no refresh redraws the choices until it has ended, then
// the choices are drawn as the change left them (or as they were, if it failed).
async function ownChange(work) {
  state.changing += 1;
  try {
    return await work();
  } finally {
    state.changing -= 1;
    supersedeRefreshes();
    renderChoices();
  }
}

function refreshQuietly() {
  refresh().catch((error) => {
    if (error.status === 401) forget("This phone is no longer registered.");
    // Offline or the server restarting: the next (re)connect catches up.
  });
}

// "Live", "Reconnecting…" or "Offline": the browser's network first, then the socket.
function renderConnection() {
  const live = state.socket && state.socket.connected;
  const [text, mode] = !navigator.onLine ? ["Offline", "offline"]
    : live ? ["Live", "live"] : ["Reconnecting…", "reconnecting"];
  $("connection").textContent = text;
  $("connection").dataset.state = mode;
}

function connect() {
  const socket = window.io({ transports: ["websocket"], auth: { device_token: token() } });
  setSocket(socket);
  // "connect" fires on the first connection and on every reconnection: what happened while
  // the socket was away (or before it joined the shopper's room) is fetched, not replayed.
  socket.on("connect", () => { renderConnection(); refreshQuietly(); });
  socket.on("disconnect", renderConnection);
  socket.on("connect_error", renderConnection);
  socket.on("pickup_update", (u) => {
    // The event says what changed; the state (and the coupon's QR code) comes from the server.
    if (u.status === "on_the_way") $("live").textContent = `${u.staff_first_name} is on the way`;
    refreshQuietly();
  });
  socket.on("coupon", (message) => {
    // The event is the message (shown in the inbox at once, which marks it seen), not the
    // coupon: the refresh brings the coupon with its QR code, and the inbox as the server has it.
    keepMessage(message);
    refreshQuietly();
  });
  socket.on("help_update", (h) => {
    if (!h || h.store_id !== storeId) return;
    state.help = ["raised", "acknowledged"].includes(h.status) ? [h] : [];
    renderHelp();
    refreshQuietly(); // a closed request may bring a survey
  });
  renderConnection();
}

// The browser knows first when the network goes: the socket is dropped at once (a socket the
// network no longer carries may linger for a minute) and made again, without waiting for its
// back-off, when the network is back.
window.addEventListener("offline", () => {
  if (state.socket) state.socket.disconnect();
  renderConnection();
});
window.addEventListener("online", () => {
  if (state.socket && !state.socket.connected) state.socket.connect();
  renderConnection();
});

// Fire and forget: "seen" only feeds the store's statistics.
function markSeen(messageId) {
  if (typeof messageId !== "string" || !MESSAGE_ID.test(messageId)) return;
  fetch(`/api/v1/messages/${messageId}/seen`, { method: "POST" }).catch(() => {});
}

function base64urlBytes(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

function sameBytes(buffer, bytes) {
  const a = new Uint8Array(buffer);
  return a.length === bytes.length && a.every((value, index) => value === bytes[index]);
}

function pushStatus(text) {
  $("push-status").textContent = text;
  $("push-status").hidden = !text;
}

function hasPushConsent(consents) { return consents.some((c) => c.channel === "push"); }

function showPushConsents(consents) {
  for (const box of document.querySelectorAll("input[name=push-consent]")) {
    const [purpose] = box.value.split(":");
    box.checked = consents.some((c) => c.store_id === storeId && c.purpose === purpose && c.channel === "push");
  }
}

// The service worker cannot read localStorage: when the browser renews this phone's
// subscription it reads the device token here (sw.js, "pushsubscriptionchange").
function shareTokenWithWorker(value) {
  return caches.open(WORKER_CACHE).then((cache) => (value
    ? cache.put(WORKER_TOKEN_ENTRY, new Response(value))
    : cache.delete(WORKER_TOKEN_ENTRY)));
}

// Must run inside the tap that asked for notifications: browsers only prompt on a user gesture.
async function notificationsAllowed() {
  if (Notification.permission === "granted") return true;
  if (Notification.permission === "denied") return false;
  return (await Notification.requestPermission()) === "granted";
}

// Subscribe this browser (or reuse its subscription) and give it to the store.
async function pushSubscribe() {
  const registration = await navigator.serviceWorker.ready;
  const { application_server_key: key } = await api("/api/v1/push/key");
  const serverKey = base64urlBytes(key);
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && subscription.options && subscription.options.applicationServerKey
      && !sameBytes(subscription.options.applicationServerKey, serverKey)) {
    await subscription.unsubscribe(); // made for the server's previous key: useless now
    subscription = null;
  }
  if (!subscription) {
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: serverKey });
  }
  await api("/api/v1/me/push-subscriptions", { method: "POST", body: JSON.stringify(subscription.toJSON()) });
  await shareTokenWithWorker(token());
}

// Unsubscribe this browser; `tellServer` false once the shopper is erased (nothing to tell).
async function pushUnsubscribe(tellServer = true) {
  if (!pushSupported) return;
  await shareTokenWithWorker(null);
  const registration = await navigator.serviceWorker.getRegistration("/");
  const subscription = registration ? await registration.pushManager.getSubscription() : null;
  if (!subscription) return;
  const { endpoint } = subscription;
  await subscription.unsubscribe().catch(() => {});
  if (tellServer) {
    await api("/api/v1/me/push-subscriptions", { method: "DELETE", body: JSON.stringify({ endpoint }) });
  }
}

// Make this browser's subscription match the shopper's push consents (in any store).
async function syncPush(consents) {
  if (!pushSupported) return;
  try {
    if (!hasPushConsent(consents)) {
      await pushUnsubscribe();
      pushStatus("");
    } else if (Notification.permission === "granted") {
      await pushSubscribe();
      pushStatus("Notifications are on for this phone.");
    } else if (Notification.permission === "denied") {
      pushStatus("Notifications are blocked for this page: allow them in the browser's settings.");
    } else {
      pushStatus("Notifications are not allowed on this phone yet.");
      $("push-allow").hidden = false;
      return;
    }
    $("push-allow").hidden = true;
  } catch (error) {
    pushStatus(`Notifications could not be switched on here: ${error.message}`);
  }
}

async function changePushConsent(box) {
  const [purpose, channel] = box.value.split(":");
  const wanted = box.checked;
  if (wanted && !(await notificationsAllowed())) {
    box.checked = false;
    pushStatus("Notifications are blocked for this page: allow them in the browser's settings.");
    return;
  }
  const me = await api("/api/v1/me");
  const keep = me.consents
    .filter((c) => c.store_id === storeId && !(c.purpose === purpose && c.channel === channel))
    .map((c) => ({ purpose: c.purpose, channel: c.channel }));
  if (wanted) keep.push({ purpose, channel });
  await api("/api/v1/me/consents", { method: "PUT", body: JSON.stringify({ store_id: storeId, consents: keep }) });
  const after = await api("/api/v1/me");
  showPushConsents(after.consents);
  await syncPush(after.consents);
}

async function showMe() {
  let me;
  try {
    me = await api("/api/v1/me");
    $("hello-name").textContent = me.first_name;
  } catch (error) {
    if (error.status === 401) { forget("This phone is no longer registered."); return; }
    throw error;
  }
  $("join").hidden = true;
  $("lost").hidden = true;
  $("me").hidden = false;
  state.me = me;
  showPushConsents(me.consents);
  renderChoices();
  await claimPendingOrder();
  connect(); // its "connect" fetches everything the page shows
  refreshQuietly(); // shown at once, even before (or without) a live connection
  // Re-sent on every visit: the browser may have renewed its subscription meanwhile.
  await syncPush(me.consents);
}

// The store's phone and web page, at the foot of every view: a person is always reachable.
function renderPerson(phone, web) {
  $("person-phone").hidden = !phone;
  if (phone) { $("person-phone").textContent = `call ${phone}`; $("person-phone").href = `tel:${phone}`; }
  $("person-web").hidden = !web;
  if (web) $("person-web").href = web;
  $("person-or").hidden = !(phone && web);
  $("person").hidden = !(phone || web);
}

async function loadStore() {
  try {
    const info = await api(`/api/v1/stores/${storeId}/info`);
    $("store-name").textContent = info.name;
    state.currency = info.currency || null;
    for (const bay of info.bays) {
      const option = document.createElement("option");
      option.value = bay.name;
      option.textContent = `At ${bay.label}`;
      $("bay").append(option);
    }
    for (const zone of [...(info.zones || []), ...info.bays]) {
      const option = document.createElement("option");
      option.value = zone.name;
      option.textContent = `At ${zone.label}`;
      $("help-zone").append(option);
    }
    renderPerson(info.phone, info.web_page);
  } catch { /* the page still works without the store's name */ }
}

$("offers-email").addEventListener("change", (e) => { $("email-row").hidden = !e.target.checked; });
for (const box of document.querySelectorAll("input[name=consent][value^='arrival:']")) {
  box.addEventListener("change", () => {
    $("pickup-row").hidden = !document.querySelector("input[name=consent][value^='arrival:']:checked");
  });
}

// The pickup e-mail or phone: only with arrival alerts, the only thing it is used for.
function pickupContact(consents) {
  const typed = $("pickup-contact").value.trim();
  if (!typed || !consents.some((c) => c.purpose === "arrival")) return {};
  return typed.includes("@") ? { pickup_email: typed } : { pickup_phone: typed };
}

$("join").addEventListener("submit", async (event) => {
  event.preventDefault();
  let consents = [...document.querySelectorAll("input[name=consent]:checked")].map((box) => {
    const [purpose, channel] = box.value.split(":");
    return { purpose, channel };
  });
  if (!consents.length) { forget("Tick at least one box: without it we keep nothing about you."); return; }
  // Asked now, inside the tap on "Join": a browser only prompts on a user gesture.
  if (hasPushConsent(consents) && !(await notificationsAllowed())) {
    consents = consents.filter((c) => c.channel !== "push");
    if (!consents.length) {
      forget("Notifications are blocked for this page: allow them in the browser's settings, or tick another box.");
      return;
    }
  }
  try {
    const body = await api("/api/v1/optin", {
      method: "POST",
      body: JSON.stringify({
        store_id: storeId, first_name: $("first-name").value, consents,
        email: $("email").value || null,
        ...pickupContact(consents),
        timezone: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
      }),
    });
    localStorage.setItem(TOKEN_KEY, body.device_token);
    showMe();
  } catch (error) { forget(error.message); }
});

$("checkin").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = $("checkin-result");
  try {
    const body = await api("/api/v1/me/checkin", {
      method: "POST", body: JSON.stringify({ store_id: storeId, bay: $("bay").value || null }),
    });
    result.textContent = body.orders_linked === 0
      ? "We don't see a pickup order for you yet — open the link in your order's ready message, or tell a staff member"
      : `Thanks, the staff know you're at ${body.where}.`;
  } catch (error) { result.textContent = error.message; }
  result.hidden = false;
  refreshQuietly();
});

$("help-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const zone = $("help-zone").value || null;
  try {
    const asked = await api("/api/v1/me/help-requests", {
      method: "POST", body: JSON.stringify({ store_id: storeId, ...(zone ? { zone } : {}) }),
    });
    state.help = [asked];
    supersedeRefreshes();
    renderHelp();
  } catch (error) {
    $("help-status").textContent = error.status ? error.message : "Not sent: check your connection and try again.";
    $("help-status").dataset.status = "error";
    $("help-status").hidden = false;
  }
});

$("survey").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (state.score === null || !state.survey) return;
  const { id } = state.survey;
  try {
    await api(`/api/v1/me/surveys/${id}`, {
      method: "POST", body: JSON.stringify({ score: state.score, comment: $("survey-comment").value || null }),
    });
  } catch (error) {
    if (error.code !== "already_answered") { // answered already (another tab): done all the same
      $("survey-error").textContent = error.status ? error.message : "Not sent: check your connection and try again.";
      $("survey-error").hidden = false;
      return;
    }
  }
  state.answered.add(id);
  state.surveys = state.surveys.filter((s) => s.id !== id);
  renderSurvey();
  $("survey-thanks").hidden = state.survey !== null;
});

for (let n = 0; n <= 10; n += 1) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = String(n);
  button.setAttribute("role", "radio");
  button.setAttribute("aria-checked", "false");
  button.addEventListener("click", () => {
    state.score = n;
    for (const b of document.querySelectorAll(".scale button")) {
      b.setAttribute("aria-checked", String(b === button));
    }
  });
  document.querySelector(".scale").append(button);
}

function showPrivacyResult(text, isError = false) {
  $("privacy-result").textContent = text;
  $("privacy-result").classList.toggle("error", isError);
  $("privacy-result").hidden = false;
}

function hasConsent(consents, purpose, channel) {
  return consents.some((c) => c.store_id === storeId && c.purpose === purpose && (!channel || c.channel === channel));
}

// The choices card, the arrival buttons and the pause, as the profile says.
function renderChoices() {
  const { me } = state;
  if (!me) return;
  for (const box of document.querySelectorAll("input[name=choice]")) {
    const [purpose, channel] = box.value.split(":");
    box.checked = hasConsent(me.consents, purpose, channel);
  }
  const arrival = hasConsent(me.consents, "arrival");
  $("stop-arrival").hidden = !arrival;
  $("start-arrival").hidden = arrival;
  const paused = me.detection_paused_until;
  $("pause").hidden = Boolean(paused);
  $("resume").hidden = !paused;
  $("pause-state").hidden = !paused;
  if (paused) {
    $("pause-state").textContent =
      `Paused: the store will not recognise your phone until ${new Date(paused * 1000).toLocaleTimeString()}.`;
  }
}

// Set this store's consents to the current ones with one (purpose, channel) on or off;
// turning arrival alerts off turns them off on every channel (notifications too).
async function setConsent(purpose, channel, wanted) {
  const me = await api("/api/v1/me");
  const dropped = (c) => c.purpose === purpose && (c.channel === channel || (purpose === "arrival" && !wanted));
  const keep = me.consents
    .filter((c) => c.store_id === storeId && !dropped(c))
    .map((c) => ({ purpose: c.purpose, channel: c.channel }));
  if (wanted) keep.push({ purpose, channel });
  await api("/api/v1/me/consents", { method: "PUT", body: JSON.stringify({ store_id: storeId, consents: keep }) });
  state.me = await api("/api/v1/me");
  showPushConsents(state.me.consents);
  await syncPush(state.me.consents);
}

const CHOICE_RESULT = {
  "offers:app": ["Offers in this app are on.", "Offers in this app are off."],
  "offers:email": ["Offers by e-mail are on.", "Offers by e-mail are off."],
  "offers:sms": ["Offers by text message are on.", "Offers by text message are off."],
  "arrival:app": [
    "Arrival alerts are on: the staff will know when you arrive to collect an order.",
    "Arrival alerts are off: the store no longer recognises your phone.",
  ],
};

async function changeChoice(value, wanted) {
  const [purpose, channel] = value.split(":");
  try {
    await ownChange(() => setConsent(purpose, channel, wanted));
    showPrivacyResult(CHOICE_RESULT[value][wanted ? 0 : 1]);
  } catch (error) { // the box went back to what the store keeps (ownChange)
    showPrivacyResult(error.status ? error.message : "Not changed: check your connection and try again.", true);
  }
}

for (const box of document.querySelectorAll("input[name=choice]")) {
  box.addEventListener("change", () => changeChoice(box.value, box.checked));
}

async function pauseFor(minutes) {
  try {
    const { paused_until: until } = await ownChange(async () => {
      const answer = await api("/api/v1/me/pause", { method: "POST", body: JSON.stringify({ minutes }) });
      state.me = { ...state.me, detection_paused_until: answer.paused_until };
      return answer;
    });
    showPrivacyResult(until ? "Paused for an hour." : "Detection is back on: the staff will know when you arrive.");
  } catch (error) {
    showPrivacyResult(error.status ? error.message : "Not changed: check your connection and try again.", true);
  }
}

$("pause").addEventListener("click", () => pauseFor(60));
$("resume").addEventListener("click", () => pauseFor(0)); // minutes 0 resumes at once

$("download").addEventListener("click", async () => {
  const data = await api("/api/v1/me/export");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  link.download = "my-data.json";
  link.click();
});

$("stop-arrival").addEventListener("click", () => changeChoice("arrival:app", false));
$("start-arrival").addEventListener("click", () => changeChoice("arrival:app", true));

$("push-allow").addEventListener("click", async () => {
  if (!(await notificationsAllowed())) {
    pushStatus("Notifications are blocked for this page: allow them in the browser's settings.");
    return;
  }
  syncPush((await api("/api/v1/me")).consents);
});

for (const box of document.querySelectorAll("input[name=push-consent]")) {
  box.addEventListener("change", () => {
    changePushConsent(box).catch((error) => pushStatus(error.message));
  });
}

$("erase").addEventListener("click", async () => {
  if (!confirm("Erase everything the store keeps about you? This cannot be undone.")) return;
  await api("/api/v1/me", { method: "DELETE" });
  await pushUnsubscribe(false).catch(() => {}); // the store already forgot it
  forget("Everything about you was erased.");
});

$("recover-here").addEventListener("click", () => useRecovery("/api/v1/recovery/new-phone"));
$("recover-erase").addEventListener("click", () => {
  if (!confirm("Erase everything the store keeps about you? This cannot be undone.")) return;
  useRecovery("/api/v1/recovery/erase");
});

// The answer is the same whether or not the store knows the address: nothing to tell apart.
$("lost").addEventListener("submit", async (event) => {
  event.preventDefault();
  const contact = $("lost-contact").value.trim();
  const body = contact.includes("@") ? { email: contact } : { phone: contact };
  const result = $("lost-result");
  try {
    await api("/api/v1/recovery", { method: "POST", body: JSON.stringify({ store_id: storeId, ...body }) });
    result.textContent = "If you gave the store this address or number, a link is on its way.";
    result.classList.remove("error");
  } catch (error) {
    result.textContent = error.message;
    result.classList.add("error");
  }
  result.hidden = false;
});

// The service worker makes the page installable and shows pushed messages.
if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
if (!pushSupported) {
  for (const box of document.querySelectorAll(".push-only")) box.disabled = true;
  for (const line of document.querySelectorAll(".push-unavailable")) line.hidden = false;
}

setInterval(tickCoupons, 1000);
adoptFragment();
// A claim link tapped while the page is open only changes the fragment: no reload.
window.addEventListener("hashchange", async () => {
  adoptFragment();
  if (!state.pendingClaim || !token()) return;
  await claimPendingOrder();
  refreshQuietly();
});
loadStore();
if (token()) showMe(); else forget();
