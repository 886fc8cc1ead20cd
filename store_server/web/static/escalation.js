// Where a manager's escalation message (push, SMS or e-mail) leads: "I'll take it". The signed
// token is in the fragment (#take=...), which no request carries; it leaves the address bar at
// once (history, screenshots) and goes to the API only in the body of the POST.
import { api } from "./api.js";

const $ = (id) => document.getElementById(id);
const match = /^#take=([A-Za-z0-9._-]{1,200})$/.exec(location.hash);
const token = match ? match[1] : null;
if (location.hash) history.replaceState(null, "", location.pathname);

function say(id, text) {
  $(id).hidden = false;
  $(id).textContent = text;
}

if (!token) {
  say("take-error", "This link is not complete. Open the console to see the escalations.");
} else {
  $("take").hidden = false;
  $("take").addEventListener("click", async () => {
    $("take").disabled = true;
    try {
      const x = await api("/api/v1/escalations/take", { method: "POST", body: JSON.stringify({ token }) });
      $("take").hidden = true;
      const what = x.kind === "help" ? "who asked for help" : `(order #${x.order_number})`;
      say("take-result", `You are on your way to ${x.first_name} ${what} at ${x.where}.`);
    } catch (error) {
      $("take").disabled = false;
      if (error.code === "already_acknowledged" || error.code === "alert_handed_over" || error.code === "alert_expired" || error.code === "help_closed" || error.code === "help_expired") $("take").hidden = true;
      say("take-error", error.message);
    }
  });
}
