// Campaigns: the table (edit, pause, resume) and the form that creates a campaign or a new
// version of one, translating between plain words and the API's fields.
import { api } from "../api.js";
import { state } from "./state.js";
import { $, clearErrors, el, fromLocalInput, numberOrNull, show, showFieldErrors, storePath, toLocalInput } from "./util.js";

const TRIGGERS = {
  entered: "someone enters",
  walk_by: "someone walks past",
  zone_dwell: "someone spends time in a zone",
  exited: "someone leaves",
  pickup_handed_over: "a pickup is collected",
  survey_answered: "a survey is answered",
};
const CHANNELS = { app: "app", push: "push", sms: "SMS", email: "e-mail" };

function describeTrigger(v) {
  if (v.trigger === "zone_dwell") {
    return `someone spends ${Math.round((v.min_dwell_s || 0) / 6) / 10} min or more in ${v.zone}`;
  }
  return TRIGGERS[v.trigger] || v.trigger;
}

function describeOffer(v) {
  let amount = "";
  if (v.percent_off) amount = `${v.percent_off} % off`;
  else if (v.amount_off_cents) amount = `${(v.amount_off_cents / 100).toFixed(2)} off`;
  const scope = v.product_scope ? ` ${v.product_scope}` : "";
  return amount ? `${amount}${scope}: ${v.offer_text}` : v.offer_text;
}

export async function loadCampaigns() {
  try {
    state.campaigns = (await api(storePath("/campaigns"))).campaigns;
    renderCampaigns();
    show($("campaigns-error"), "");
  } catch (error) {
    if (error.status !== 401) show($("campaigns-error"), error.message);
  }
}

function renderCampaigns() {
  const rows = state.campaigns.map((c) => {
    const v = c.current;
    const toggle = c.active
      ? el("button", { type: "button", class: "pause", textContent: "Pause", onclick: () => setActive(c, "pause") })
      : el("button", { type: "button", class: "resume", textContent: "Resume", onclick: () => setActive(c, "resume") });
    return el(
      "tr",
      { dataset: { campaignId: c.id } },
      el("td", { class: "name", textContent: c.name }),
      el("td", { class: "status", textContent: c.active ? "running" : "paused", dataset: { active: String(c.active) } }),
      el("td", { class: "version", textContent: `v${v.version}` }),
      el("td", { class: "trigger", textContent: describeTrigger(v) }),
      el("td", { class: "offer", textContent: describeOffer(v) }),
      el("td", { class: "channels", textContent: v.channels.map((ch) => CHANNELS[ch] || ch).join(" → ") }),
      el(
        "td",
        { class: "actions" },
        el("button", { type: "button", class: "edit secondary", textContent: "Edit", onclick: () => openCampaignForm(c) }),
        toggle,
      ),
    );
  });
  $("campaign-table").tBodies[0].replaceChildren(...rows);
  $("campaign-table").hidden = state.campaigns.length === 0;
  $("campaigns-empty").hidden = state.campaigns.length > 0;
}

async function setActive(campaign, action) {
  try {
    const updated = await api(storePath(`/campaigns/${campaign.id}/${action}`), { method: "POST", body: "{}" });
    state.campaigns = state.campaigns.map((c) => (c.id === updated.id ? updated : c));
    renderCampaigns();
    show($("campaigns-error"), "");
  } catch (error) {
    if (error.status !== 401) show($("campaigns-error"), error.message);
  }
}

function channelList() {
  return [...$("c-channels").children];
}

function setChannels(order) {
  const items = new Map(channelList().map((li) => [li.dataset.channel, li]));
  const ordered = [...order, ...[...items.keys()].filter((c) => !order.includes(c))];
  for (const name of ordered) {
    const li = items.get(name);
    li.querySelector("input").checked = order.includes(name);
    $("c-channels").append(li);
  }
}

function syncCampaignForm() {
  $("dwell").hidden = $("c-trigger").value !== "zone_dwell";
  $("discount-value-field").hidden = $("c-discount-kind").value === "none";
  $("c-discount-value").setAttribute("aria-label", $("c-discount-kind").value === "amount" ? "Amount off" : "Percent off");
  $("c-valid-minutes").disabled = !$("c-valid-for").checked;
  $("c-valid-until").disabled = $("c-valid-for").checked;
}

export function openCampaignForm(campaign) {
  const form = $("campaign-form");
  clearErrors(form, $("campaign-form-error"));
  state.editing = campaign ? campaign.id : null;
  $("campaign-form-title").textContent = campaign ? `Edit “${campaign.name}” (makes version ${campaign.current.version + 1})` : "New campaign";
  const v = campaign ? campaign.current : null;
  const audience = (v && v.audience) || {};
  $("c-name").value = campaign ? campaign.name : "";
  $("c-trigger").value = v ? v.trigger : "entered";
  $("c-dwell-minutes").value = v && v.min_dwell_s !== null ? v.min_dwell_s / 60 : "";
  $("c-zone").value = (v && v.zone) || "";
  $("c-min-visits").value = audience.min_past_visits ?? "";
  $("c-bought").value = audience.bought ?? "";
  $("c-visited-zone").value = audience.visited_zone ?? "";
  $("c-attributes").value = Object.entries(audience.attributes || {}).map(([k, val]) => `${k}=${val}`).join("\n");
  $("c-offer").value = v ? v.offer_text : "";
  if (v && v.amount_off_cents) {
    $("c-discount-kind").value = "amount";
    $("c-discount-value").value = v.amount_off_cents / 100;
  } else if (v && !v.percent_off) {
    $("c-discount-kind").value = "none";
    $("c-discount-value").value = "";
  } else {
    $("c-discount-kind").value = "percent";
    $("c-discount-value").value = v ? v.percent_off : "";
  }
  $("c-scope").value = (v && v.product_scope) || "";
  const until = v && v.valid_until;
  $("c-valid-for").checked = !until;
  $("c-valid-until-choice").checked = Boolean(until);
  $("c-valid-minutes").value = v && v.valid_minutes ? v.valid_minutes : until ? "" : "120";
  $("c-valid-until").value = toLocalInput(until);
  $("c-starts").value = toLocalInput(v && v.starts_at);
  $("c-ends").value = toLocalInput(v && v.ends_at);
  for (const box of $("c-days").querySelectorAll("input")) box.checked = Boolean(v && v.days && v.days.includes(Number(box.value)));
  $("c-daily-start").value = (v && v.daily_start) || "";
  $("c-daily-end").value = (v && v.daily_end) || "";
  setChannels(v ? v.channels : ["app"]);
  $("c-holdout").value = v ? Math.round(v.holdout_share * 1000) / 10 : 0;
  $("c-max").value = v && v.max_per_shopper ? v.max_per_shopper : "";
  syncCampaignForm();
  form.hidden = false;
  form.scrollIntoView({ block: "start" });
  $("c-name").focus({ preventScroll: true });
}

// "tier=gold" lines to {"tier": "gold"}; numbers and true/false keep their type.
function parseAttributes(text) {
  const out = {};
  for (const line of text.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf("=");
    const key = (at < 0 ? line : line.slice(0, at)).trim();
    const raw = at < 0 ? "" : line.slice(at + 1).trim();
    let value = raw;
    if (raw === "true" || raw === "false") value = raw === "true";
    else if (/^-?\d+$/.test(raw)) value = Number(raw);
    out[key] = value;
  }
  return out;
}

function campaignBody() {
  const body = {
    name: $("c-name").value,
    trigger: $("c-trigger").value,
    offer_text: $("c-offer").value,
    channels: channelList().filter((li) => li.querySelector("input").checked).map((li) => li.dataset.channel),
    holdout_share: $("c-holdout").value === "" ? 0 : Number($("c-holdout").value) / 100,
  };
  if (body.trigger === "zone_dwell") {
    const minutes = numberOrNull($("c-dwell-minutes"));
    if (minutes !== null) body.min_dwell_s = minutes * 60;
    if ($("c-zone").value) body.zone = $("c-zone").value;
  }
  const audience = {};
  const visits = numberOrNull($("c-min-visits"));
  if (visits !== null) audience.min_past_visits = visits;
  if ($("c-bought").value.trim()) audience.bought = $("c-bought").value;
  if ($("c-visited-zone").value) audience.visited_zone = $("c-visited-zone").value;
  const attributes = parseAttributes($("c-attributes").value);
  if (Object.keys(attributes).length) audience.attributes = attributes;
  if (Object.keys(audience).length) body.audience = audience;
  const kind = $("c-discount-kind").value;
  const amount = numberOrNull($("c-discount-value"));
  if (kind === "percent") body.percent_off = amount;
  if (kind === "amount") body.amount_off_cents = amount === null ? null : Math.round(amount * 100);
  if ($("c-scope").value.trim()) body.product_scope = $("c-scope").value;
  if ($("c-valid-for").checked) body.valid_minutes = numberOrNull($("c-valid-minutes"));
  else body.valid_until = fromLocalInput($("c-valid-until").value);
  const starts = fromLocalInput($("c-starts").value);
  const ends = fromLocalInput($("c-ends").value);
  if (starts !== null) body.starts_at = starts;
  if (ends !== null) body.ends_at = ends;
  const days = [...$("c-days").querySelectorAll("input:checked")].map((box) => Number(box.value));
  if (days.length) body.days = days;
  if ($("c-daily-start").value) body.daily_start = $("c-daily-start").value;
  if ($("c-daily-end").value) body.daily_end = $("c-daily-end").value;
  const max = numberOrNull($("c-max"));
  if (max !== null) body.max_per_shopper = max;
  return body;
}

// Wire the campaign form and its buttons (once, at start).
export function wireCampaigns() {
  for (const li of channelList()) {
    li.querySelector(".up").addEventListener("click", () => li.previousElementSibling && li.previousElementSibling.before(li));
    li.querySelector(".down").addEventListener("click", () => li.nextElementSibling && li.nextElementSibling.after(li));
  }

  for (const id of ["c-trigger", "c-discount-kind", "c-valid-for", "c-valid-until-choice"]) {
    $(id).addEventListener("change", syncCampaignForm);
  }

  $("campaign-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const path = state.editing ? storePath(`/campaigns/${state.editing}`) : storePath("/campaigns");
    try {
      const saved = await api(path, { method: state.editing ? "PUT" : "POST", body: JSON.stringify(campaignBody()) });
      clearErrors(form, $("campaign-form-error"));
      form.hidden = true;
      state.editing = null;
      state.campaigns = state.campaigns.some((c) => c.id === saved.id)
        ? state.campaigns.map((c) => (c.id === saved.id ? saved : c))
        : [...state.campaigns, saved];
      renderCampaigns();
    } catch (error) {
      if (error.status !== 401) showFieldErrors(form, error, $("campaign-form-error"));
    }
  });

  $("new-campaign").addEventListener("click", () => openCampaignForm(null));
  $("campaign-cancel").addEventListener("click", () => { $("campaign-form").hidden = true; state.editing = null; });
}
