// How this manager hears of escalations away from the console (per account): a notification
// on this device (Web Push through /sw.js), a text message or an e-mail to the log-in address.
// Each message links to "I'll take it"; the console's own list has the same button.
import { api } from "../api.js";
import { $, clearErrors, show, showFieldErrors, storePath } from "./util.js";

const pushSupported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

function base64urlBytes(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

function render(choice) {
  $("n-channel").value = choice.channel;
  $("n-phone").placeholder = choice.phone_set ? "(kept; type a new one to change it)" : "+44 7700 900123";
}

export async function loadEscalationChannel() {
  try { render(await api(storePath("/escalation-channel"))); } catch { /* a 401 shows the log-in */ }
}

// Subscribe this browser to push and give the subscription to the store for this manager.
async function subscribePush() {
  if (!pushSupported) throw new Error("Notifications are not available on this browser.");
  if ((await Notification.requestPermission()) !== "granted") throw new Error("Notifications are blocked for this site.");
  await navigator.serviceWorker.register("/sw.js");
  const registration = await navigator.serviceWorker.ready;
  const { application_server_key: key } = await api("/api/v1/push/key");
  const subscription = (await registration.pushManager.getSubscription())
    || (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64urlBytes(key) }));
  await api(storePath("/escalation-channel/push-subscriptions"), { method: "POST", body: JSON.stringify(subscription.toJSON()) });
}

export function wireEscalationChannel() {
  const form = $("notify-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const general = form.querySelector(".form-error");
    clearErrors(form, general);
    show($("notify-saved"), "");
    const channel = $("n-channel").value;
    const body = { channel };
    if ($("n-phone").value.trim()) body.phone = $("n-phone").value.trim();
    try {
      if (channel === "push") await subscribePush();
      render(await api(storePath("/escalation-channel"), { method: "PUT", body: JSON.stringify(body) }));
      $("n-phone").value = "";
      show($("notify-saved"), "Saved.");
    } catch (error) {
      showFieldErrors(form, error, general);
    }
  });
}
