// A coupon's link (/r/CODE, what its QR opens). For a shopper it only says to show the code at
// the till. A staffer of the coupon's store logged in on this browser (the staff tablet's or
// the console's log-in) sees whether it is unused, used (when, by whom) or expired, and can
// redeem it; a manager can undo a redemption in its first 10 minutes.
import { api, apiAuth, session } from "./api.js";

const $ = (id) => document.getElementById(id);
const code = $("coupon").dataset.code;
const SESSION_KEYS = ["staff-session", "console-session"]; // staff.js, console/main.js

function when(ts) {
  return new Date(ts * 1000).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

function path(suffix = "") {
  return `/api/v1/stores/${session().staff.store_id}/redemptions${suffix}`;
}

function showError(message) {
  $("till-error").hidden = !message;
  $("till-error").textContent = message || "";
}

function render(view) {
  const { coupon } = view;
  const now = Date.now() / 1000;
  $("for-shopper").hidden = true;
  $("till").hidden = false;
  $("till-offer").textContent = coupon.offer;
  const state = $("till-state");
  $("till-redeem").hidden = true;
  $("till-undo").hidden = true;
  if (coupon.redeemed_at !== null) {
    state.dataset.state = "used";
    state.textContent = `Already used on ${when(coupon.redeemed_at)}${view.redeemed_by ? ` (${view.redeemed_by})` : ""}.`;
    const manager = ["manager", "admin"].includes(session().staff.role);
    $("till-undo").hidden = !(manager && view.undo_until !== null && view.undo_until > now);
  } else if (coupon.expires_at <= now) {
    state.dataset.state = "expired";
    state.textContent = `Expired on ${when(coupon.expires_at)}.`;
  } else {
    state.dataset.state = "unused";
    state.textContent = `Not used yet; valid until ${when(coupon.expires_at)}.`;
    $("till-redeem").hidden = false;
  }
}

async function refresh() {
  try {
    render(await api(path(`/${code}`)));
  } catch (error) {
    // Not this store's coupon, or a stale log-in: the page stays what a shopper sees.
    if (error.status === 404 || error.status === 403) {
      showError("This is not a coupon of your store.");
      $("till").hidden = false;
    }
  }
}

async function act(options) {
  showError("");
  try {
    await api(path(options.suffix), options.request);
  } catch (error) {
    showError(error.message);
  }
  await refresh();
}

$("till-redeem").addEventListener("click", () => act({
  suffix: "", request: { method: "POST", body: JSON.stringify({ code }) },
}));
$("till-undo").addEventListener("click", () => act({
  suffix: `/${code}`, request: { method: "DELETE" },
}));

apiAuth.sessionKey = SESSION_KEYS.find((key) => {
  apiAuth.sessionKey = key;
  return session() !== null;
}) || null;
if (apiAuth.sessionKey) refresh();
