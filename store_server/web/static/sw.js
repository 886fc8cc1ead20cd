// The shopper page's service worker: shows Web Push messages as notifications and, on a tap,
// tells the store the message was seen and opens where it leads; renews the subscription when
// the browser's push service changes it.
// A push payload is the server's notification JSON:
//   {id, kind, title, body, url, expires_at, data}   (expires_at in Unix seconds, or null)
"use strict";

const MESSAGE_ID = /^[0-9a-f]{32}$/;
const ICON = "/static/icons/icon-192.png";
// Where the shopper page leaves the device token for this worker (app.js, shareTokenWithWorker).
const WORKER_CACHE = "shopper";
const WORKER_TOKEN_ENTRY = "/sw/device-token";

// A new version takes over at once instead of waiting for every tab to close.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function readPayload(data) {
  if (!data) return null;
  try {
    const payload = data.json();
    return payload && typeof payload === "object" && typeof payload.title === "string" ? payload : null;
  } catch {
    return null; // not JSON: nothing we sent
  }
}

function expired(payload, nowMs) {
  return typeof payload.expires_at === "number" && payload.expires_at * 1000 <= nowMs;
}

// Every push shows a notification: Safari (and Chrome, after a few) revokes the subscription of
// a site whose pushes show nothing (`userVisibleOnly`). An offer that ran out while the phone
// was offline says so instead of its terms; a payload we cannot read gets a neutral line.
const ENDED = "This offer has ended";
const UNREADABLE = { title: "Your store", body: "Open the app to see what is new." };

function shown(payload, nowMs) {
  if (!payload) return { title: UNREADABLE.title, options: { body: UNREADABLE.body, icon: ICON } };
  const options = { body: typeof payload.body === "string" ? payload.body : "", data: payload, icon: ICON };
  if (typeof payload.id === "string" && payload.id) options.tag = payload.id; // one per message
  if (expired(payload, nowMs)) {
    options.body = `${ENDED}: ${payload.title}`;
    options.data = { ...payload, url: null }; // a tap opens the app, not the stale coupon
    return { title: ENDED, options };
  }
  return { title: payload.title, options };
}

self.addEventListener("push", (event) => {
  const { title, options } = shown(readPayload(event.data), Date.now());
  event.waitUntil(self.registration.showNotification(title, options));
});

function target(payload) {
  // Only web addresses: a payload never opens another scheme.
  try {
    const url = new URL(payload && payload.url ? payload.url : "/app", self.location.origin);
    if (url.protocol === "https:" || url.protocol === "http:") return url.href;
  } catch { /* fall through */ }
  return new URL("/app", self.location.origin).href;
}

async function openOrFocus(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((client) => client.url === url && "focus" in client);
  if (open) return open.focus();
  return self.clients.openWindow(url);
}

function markSeen(payload) {
  if (!payload || !MESSAGE_ID.test(payload.id)) return Promise.resolve();
  // No auth: the opaque id is the capability. A failure only loses a statistic.
  return fetch(`/api/v1/messages/${payload.id}/seen`, { method: "POST" }).catch(() => {});
}

self.addEventListener("notificationclick", (event) => {
  const payload = event.notification.data;
  event.notification.close();
  event.waitUntil(Promise.all([openOrFocus(target(payload)), markSeen(payload)]));
});

// The push service replaced or dropped the subscription: subscribe again with the store's key
// and give the store the new one, as the page does. No token left by the page: nobody here
// wants notifications, nothing to renew.
async function renewSubscription() {
  const stored = await caches.match(WORKER_TOKEN_ENTRY, { cacheName: WORKER_CACHE });
  if (!stored) return;
  const token = await stored.text();
  const { application_server_key: key } = await (await fetch("/api/v1/push/key")).json();
  const subscription = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  await fetch("/api/v1/me/push-subscriptions", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(subscription.toJSON()),
  });
}

self.addEventListener("pushsubscriptionchange", (event) => event.waitUntil(renewSubscription()));
