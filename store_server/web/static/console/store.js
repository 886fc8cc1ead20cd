// The store tab: the store's settings (offer rules, escalation limits, "reach a person") and its
// staff accounts. The API validates; each field's error shows next to the field.
import { api, session } from "../api.js";
import { $, cells, clearErrors, el, fieldMessages, fillBody, show, showFieldErrors, storePath } from "./util.js";

const SETTINGS_FIELDS = {
  name: "s-name",
  timezone: "s-timezone",
  currency: "s-currency",
  ack_limit_s: "s-ack",
  second_escalation_s: "s-second",
  quiet_start: "s-quiet-start",
  quiet_end: "s-quiet-end",
  max_offers_per_day: "s-per-day",
  max_offers_per_visit: "s-per-visit",
  help_phone: "s-phone",
  help_url: "s-url",
};
const NUMBERS = new Set(["ack_limit_s", "second_escalation_s", "max_offers_per_day", "max_offers_per_visit"]);

export async function loadStore() {
  try {
    const [settings, accounts] = await Promise.all([api(storePath("/settings")), api(storePath("/staff"))]);
    fillSettings(settings);
    renderStaff(accounts.staff);
    show($("staff-error"), "");
  } catch (error) {
    if (error.status !== 401) show($("staff-error"), error.message);
  }
}

function fillSettings(settings) {
  for (const [key, id] of Object.entries(SETTINGS_FIELDS)) $(id).value = settings[key];
  $("s-gap").value = String(Math.round(settings.min_gap_s / 60));
}

function settingsBody() {
  const body = {};
  for (const [key, id] of Object.entries(SETTINGS_FIELDS)) {
    const value = $(id).value.trim();
    body[key] = NUMBERS.has(key) && value !== "" ? Number(value) : value;
  }
  const minutes = $("s-gap").value.trim();
  body.min_gap_s = minutes === "" ? "" : Math.round(Number(minutes) * 60);
  return body;
}

function renderStaff(accounts) {
  fillBody(
    $("staff-table"),
    accounts.map((account) => {
      const row = cells(account.name, account.email, account.role, account.active ? "active" : "deactivated");
      const actions = el("td", {});
      if (account.active && account.id !== session().staff.id) {
        actions.append(el("button", { type: "button", textContent: "Stores and role", onclick: () => editAccess(account) }));
      }
      if (account.active) {
        actions.append(
          el("button", { type: "button", textContent: "Reset password", onclick: () => resetPassword(account) }),
          el("button", { type: "button", class: "danger", textContent: "Deactivate", onclick: () => deactivate(account) }),
        );
      }
      row.append(actions);
      return row;
    }),
    "No accounts.",
  );
}

// The account's role and stores: the stores offered are the ones this manager may act at (an
// admin: every store of her chain); the API keeps the account's other stores as they are.
function editAccess(account) {
  const form = $("access-form");
  clearErrors(form, form.querySelector(".form-error"));
  form.dataset.staffId = String(account.id);
  form.dataset.name = account.name;
  $("access-title").textContent = `${account.name}: stores and role`;
  $("x-role").value = account.role;
  $("x-stores").replaceChildren(...session().staff.stores.map((store) => el("label", {},
    el("input", { type: "checkbox", value: String(store.id), checked: account.store_ids.includes(store.id) }),
    ` ${store.name}`)));
  form.hidden = false;
}

async function saveAccess(event) {
  event.preventDefault();
  const form = $("access-form");
  const general = form.querySelector(".form-error");
  const role = $("x-role").value;
  const chosen = [...$("x-stores").querySelectorAll("input:checked")].map((box) => Number(box.value));
  const body = { role, store_ids: role === "admin" ? [] : chosen };
  try {
    const changed = await api(storePath(`/staff/${form.dataset.staffId}/access`), { method: "PUT", body: JSON.stringify(body) });
    clearErrors(form, general);
    form.hidden = true;
    const names = new Map(session().staff.stores.map((store) => [store.id, store.name]));
    const where = changed.role === "admin" ? "every store of the chain" : changed.store_ids.map((id) => names.get(id) || `store ${id}`).join(", ");
    show($("store-notice"), `${form.dataset.name} is now ${changed.role} at ${where}.`);
    await loadStore();
  } catch (error) {
    showFieldErrors(form, error, general);
  }
}

async function resetPassword(account) {
  const password = prompt(`New password for ${account.name} (10 characters or more). Their sessions end.`);
  if (!password) return;
  try {
    await api(storePath(`/staff/${account.id}/password`), { method: "POST", body: JSON.stringify({ password }) });
    show($("store-notice"), `${account.name}'s password was changed; they are logged out everywhere.`);
    show($("staff-error"), "");
  } catch (error) {
    show($("staff-error"), fieldMessages(error));
  }
}

async function deactivate(account) {
  if (!confirm(`Deactivate ${account.name}? They are logged out at once and cannot log in again.`)) return;
  try {
    await api(storePath(`/staff/${account.id}/deactivate`), { method: "POST" });
    show($("store-notice"), `${account.name} is deactivated.`);
    await loadStore();
  } catch (error) {
    show($("staff-error"), fieldMessages(error));
  }
}

// Wire the store tab's forms (once, at start).
export function wireStore() {
  $("refresh-store").addEventListener("click", loadStore);
  $("access-form").addEventListener("submit", saveAccess);
  $("access-cancel").addEventListener("click", () => { $("access-form").hidden = true; });
  $("store-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = $("store-form");
    const general = form.querySelector(".form-error");
    try {
      fillSettings(await api(storePath("/settings"), { method: "PUT", body: JSON.stringify(settingsBody()) }));
      clearErrors(form, general);
      show($("store-notice"), "Settings saved; the next offer and alert use them.");
    } catch (error) {
      show($("store-notice"), "");
      showFieldErrors(form, error, general);
    }
  });
  $("staff-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = $("staff-form");
    const general = form.querySelector(".form-error");
    const body = { name: $("a-name").value.trim(), email: $("a-email").value.trim(), role: $("a-role").value, password: $("a-password").value };
    try {
      const added = await api(storePath("/staff"), { method: "POST", body: JSON.stringify(body) });
      clearErrors(form, general);
      form.reset();
      show($("store-notice"), `${added.name} can log in now as ${added.email}.`);
      await loadStore();
    } catch (error) {
      showFieldErrors(form, error, general);
    }
  });
}
