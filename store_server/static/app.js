// The shopper's page: join with explicit consents, then pickups ("Sam is on the way"), "I'm
// here", coupons with a live countdown, the survey, and download / stop / erase.
// The device token arrives in the URL fragment (never sent to a server log) or from joining.
"use strict";

const TOKEN_KEY = "shopper-device";
const $ = (id) => document.getElementById(id);
const storeId = Number(new URLSearchParams(location.search).get("store") || 1);
let coupons = [];
let survey = null;
let score = null;
let socket = null;

function token() { return localStorage.getItem(TOKEN_KEY); }

async function api(path, options = {}) {
  const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error ? body.error.message : response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function adoptFragmentToken() {
  const match = location.hash.match(/device=([\w-]+)/);
  if (match) {
    localStorage.setItem(TOKEN_KEY, match[1]);
    history.replaceState(null, "", location.pathname + location.search); // keep it out of history
  }
}

function forget(message) {
  localStorage.removeItem(TOKEN_KEY);
  if (socket) { socket.disconnect(); socket = null; }
  $("me").hidden = true;
  $("join").hidden = false;
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

function couponState(c, now) {
  return c.redeemed_at ? "used" : (c.expires_at <= now ? "expired" : "live");
}

// Built when the coupons change; only the countdowns change every second.
function renderCoupons() {
  const list = $("coupons");
  list.replaceChildren();
  const now = Date.now() / 1000;
  for (const c of coupons) {
    const li = $("coupon-card").content.firstElementChild.cloneNode(true);
    li.querySelector(".offer").textContent = c.offer;
    li.querySelector(".code").textContent = `${c.code.slice(0, 5)}-${c.code.slice(5)}`;
    if (c.qr_png && couponState(c, now) === "live") {
      li.querySelector(".qr").src = c.qr_png;
      li.querySelector(".qr").hidden = false;
    }
    list.append(li);
  }
  $("no-coupons").hidden = coupons.length > 0;
  tickCoupons();
}

function tickCoupons() {
  const now = Date.now() / 1000;
  const items = $("coupons").children;
  coupons.forEach((c, index) => {
    const state = couponState(c, now);
    items[index].dataset.state = state;
    items[index].querySelector(".countdown").textContent =
      state === "used" ? "used" : remaining(c.expires_at - now);
    if (state !== "live") items[index].querySelector(".qr").hidden = true;
  });
}

async function loadCoupons() { coupons = (await api("/api/v1/me/coupons")).coupons; renderCoupons(); }

function pickupText(p) {
  if (p.staff_on_the_way) return `Order ${p.order_number}: ${p.staff_on_the_way} is on the way`;
  if (p.status === "arrived") return `Order ${p.order_number}: we know you're here`;
  if (p.status === "ready") return `Order ${p.order_number}: ready to collect`;
  return `Order ${p.order_number}: being prepared`;
}

async function loadPickups() {
  const { pickups } = await api("/api/v1/me/pickups");
  $("pickups").replaceChildren(...pickups.map((p) => {
    const li = document.createElement("li");
    li.textContent = pickupText(p);
    return li;
  }));
  $("no-pickups").hidden = pickups.length > 0;
}

function showSurvey(s) {
  survey = s;
  $("survey-question").textContent = s.question;
  $("survey").hidden = false;
}

function connect() {
  socket = io({ transports: ["websocket"], auth: { device_token: token() } });
  socket.on("pickup_update", (u) => {
    if (u.status === "on_the_way") $("live").textContent = `${u.staff_first_name} is on the way`;
    if (u.status === "handed_over") {
      $("live").textContent = "Thank you for collecting your order!";
      if (u.coupon) loadCoupons(); // with its QR code
      if (u.survey) showSurvey(u.survey);
    }
    loadPickups();
  });
  socket.on("coupon", (c) => { coupons = [c, ...coupons]; renderCoupons(); });
}

async function showMe() {
  try {
    const me = await api("/api/v1/me");
    $("hello-name").textContent = me.first_name;
  } catch (error) {
    if (error.status === 401) { forget("This phone is no longer registered."); return; }
    throw error;
  }
  $("join").hidden = true;
  $("me").hidden = false;
  await Promise.all([loadPickups(), loadCoupons()]);
  connect();
}

async function loadStore() {
  try {
    const info = await api(`/api/v1/stores/${storeId}/info`);
    $("store-name").textContent = info.name;
    for (const bay of info.bays) {
      const option = document.createElement("option");
      option.value = bay.name;
      option.textContent = `At ${bay.label}`;
      $("bay").append(option);
    }
  } catch { /* the page still works without the store's name */ }
}

$("offers-email").addEventListener("change", (e) => { $("email-row").hidden = !e.target.checked; });

$("join").addEventListener("submit", async (event) => {
  event.preventDefault();
  const consents = [...document.querySelectorAll("input[name=consent]:checked")].map((box) => {
    const [purpose, channel] = box.value.split(":");
    return { purpose, channel };
  });
  if (!consents.length) { forget("Tick at least one box: without it we keep nothing about you."); return; }
  try {
    const body = await api("/api/v1/optin", {
      method: "POST",
      body: JSON.stringify({
        store_id: storeId, first_name: $("first-name").value, consents,
        email: $("email").value || null,
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
    result.textContent = `Thanks, the staff know you're at ${body.where}.`;
  } catch (error) { result.textContent = error.message; }
  result.hidden = false;
  loadPickups();
});

$("survey").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (score === null || !survey) return;
  await api(`/api/v1/me/surveys/${survey.id}`, {
    method: "POST", body: JSON.stringify({ score, comment: $("survey-comment").value || null }),
  }).catch(() => {});
  $("survey").hidden = true;
  $("survey-thanks").hidden = false;
});

for (let n = 0; n <= 10; n += 1) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = String(n);
  button.setAttribute("role", "radio");
  button.setAttribute("aria-checked", "false");
  button.addEventListener("click", () => {
    score = n;
    for (const b of document.querySelectorAll(".scale button")) {
      b.setAttribute("aria-checked", String(b === button));
    }
  });
  document.querySelector(".scale").append(button);
}

$("pause").addEventListener("click", async () => {
  const { paused_until: until } = await api("/api/v1/me/pause", { method: "POST", body: JSON.stringify({ minutes: 60 }) });
  $("privacy-result").textContent =
    `Paused: the store will not recognise your phone until ${new Date(until * 1000).toLocaleTimeString()}.`;
  $("privacy-result").hidden = false;
});

$("download").addEventListener("click", async () => {
  const data = await api("/api/v1/me/export");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  link.download = "my-data.json";
  link.click();
});

$("stop-arrival").addEventListener("click", async () => {
  const me = await api("/api/v1/me");
  const keep = me.consents.filter((c) => c.store_id === storeId && c.purpose !== "arrival")
    .map(({ purpose, channel }) => ({ purpose, channel }));
  await api("/api/v1/me/consents", { method: "PUT", body: JSON.stringify({ store_id: storeId, consents: keep }) });
  $("privacy-result").textContent = "Arrival alerts are off: the store no longer recognises your phone.";
  $("privacy-result").hidden = false;
});

$("erase").addEventListener("click", async () => {
  if (!confirm("Erase everything the store keeps about you? This cannot be undone.")) return;
  await api("/api/v1/me", { method: "DELETE" });
  forget("Everything about you was erased.");
});

setInterval(tickCoupons, 1000);
adoptFragmentToken();
loadStore();
if (token()) showMe(); else forget();
