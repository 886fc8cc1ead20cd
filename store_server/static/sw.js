// The shopper page's service worker: shows Web Push messages as notifications and, on a tap,
// tells the store the message was seen and opens where it leads.
// A push payload is the server's notification JSON:
//   {id, kind, title, body, url, expires_at, data}   (expires_at in Unix seconds, or null)
"use strict";

const MESSAGE_ID = /^[0-9a-f]{32}$/;
const ICON = "/static/icons/icon-192.png";

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

self.addEventListener("push", (event) => {
  const payload = readPayload(event.data);
  // An offer that ran out while the phone was offline is worth nothing: show nothing.
  if (!payload || expired(payload, Date.now())) return;
  const options = { body: typeof payload.body === "string" ? payload.body : "", data: payload, icon: ICON };
  if (typeof payload.id === "string" && payload.id) options.tag = payload.id; // one per message
  event.waitUntil(self.registration.showNotification(payload.title, options));
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
