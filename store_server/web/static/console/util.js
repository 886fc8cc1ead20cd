// The console's small helpers: building and filling DOM nodes, formatting values, and showing the
// API's field errors next to the fields they name.
import { session } from "../api.js";

export const $ = (id) => document.getElementById(id);

// Where the form's unit differs from the API's, an error says which unit the API counted in.
const API_UNITS = {
  holdout_share: " (the API counts a share: 0.5 is 50 %)",
  min_dwell_s: " (the API counts seconds)",
  amount_off_cents: " (the API counts cents)",
};

// The manager's store's API path.
export function storePath(suffix) {
  return `/api/v1/stores/${session().staff.store_id}${suffix}`;
}

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key.includes("-") || key === "role") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

export function show(node, message) {
  node.hidden = !message;
  node.textContent = message || "";
}

export function dash(value, suffix = "") {
  return value === null || value === undefined ? "–" : `${value}${suffix}`;
}

export function percent(share) {
  return share === null || share === undefined ? "–" : `${Math.round(share * 1000) / 10} %`;
}

export function ago(ts) {
  if (!ts) return "never";
  const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return new Date(ts * 1000).toLocaleDateString();
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  return value < 120 ? `${value} s` : `${Math.round(value / 6) / 10} min`;
}

// datetime-local inputs speak the browser's local time; the API speaks Unix seconds.
export function toLocalInput(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

export function fromLocalInput(value) {
  return value ? new Date(value).getTime() / 1000 : null;
}

export function numberOrNull(input) {
  return input.value === "" ? null : Number(input.value);
}

// Show each of the API's field errors next to its field; what fits no field goes to `general`.
export function showFieldErrors(form, error, general) {
  clearErrors(form, general);
  const slots = [...form.querySelectorAll(".field-error")];
  const leftovers = [];
  for (const f of error.fields || []) {
    const loc = (f.loc || []).map(String);
    const keys = [loc.slice(0, 2).join("."), loc[0]];
    const slot = slots.find((s) => s.dataset.for.split(" ").some((k) => keys.includes(k)));
    if (slot) {
      const msg = `${f.msg}${API_UNITS[loc[0]] || ""}`;
      slot.textContent = slot.hidden ? msg : `${slot.textContent}; ${msg}`;
      slot.hidden = false;
      slot.closest(".field")?.classList.add("invalid");
    } else {
      leftovers.push(`${loc.join(".")}: ${f.msg}`);
    }
  }
  if (!error.fields || !error.fields.length) leftovers.push(error.message);
  show(general, leftovers.join("; "));
}

export function clearErrors(form, general) {
  for (const slot of form.querySelectorAll(".field-error")) show(slot, "");
  for (const field of form.querySelectorAll(".field.invalid")) field.classList.remove("invalid");
  if (general) show(general, "");
}

export function fieldMessages(error) {
  return error.fields && error.fields.length
    ? error.fields.map((f) => `${f.loc.join(".")}: ${f.msg}`).join("; ")
    : error.message;
}

export function cells(...values) {
  return el("tr", {}, ...values.map((v) => el("td", { textContent: v })));
}

export function fillBody(table, rows, emptyText) {
  const columns = table.tHead ? table.tHead.rows[0].cells.length : 2;
  table.tBodies[0].replaceChildren(
    ...(rows.length ? rows : [el("tr", { class: "none" }, el("td", { colSpan: columns, textContent: emptyText }))]),
  );
}

