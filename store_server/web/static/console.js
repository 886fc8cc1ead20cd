// Manager console: campaigns (create, edit, pause), results (the report), the store layout
// (zones, gateways with calibration, beacons), and a live feed of presence events and
// escalations over Socket.IO. The API validates; this page only translates between plain words
// and the API's fields, and shows each field's error next to it.
"use strict";

const TOKEN_KEY = "console-session";
const FEED_LIMIT = 200;
const $ = (id) => document.getElementById(id);
let socket = null;
let campaigns = [];
let zones = [];
let editing = null; // campaign id being edited, or null for a new one
let layoutLoaded = false;

const TRIGGERS = {
  entered: "someone enters",
  walk_by: "someone walks past",
  zone_dwell: "someone spends time in a zone",
  exited: "someone leaves",
  pickup_handed_over: "a pickup is collected",
  survey_answered: "a survey is answered",
};
const CHANNELS = { app: "app", push: "push", sms: "SMS", email: "e-mail" };
// Where the form's unit differs from the API's, an error says which unit the API counted in.
const API_UNITS = {
  holdout_share: " (the API counts a share: 0.5 is 50 %)",
  min_dwell_s: " (the API counts seconds)",
  amount_off_cents: " (the API counts cents)",
};
const PRESENCE = {
  walk_by: "walked past",
  entered: "entered",
  zone_entered: "went to",
  zone_dwell: "spent time in",
  curbside: "is waiting at",
  exited: "left",
};

// ---------- plumbing ----------

// api.js's session() and api() use the console's log-in; a request that finds it ended asks
// for a new one.
apiAuth.sessionKey = TOKEN_KEY;
apiAuth.onUnauthorized = () => showLogin("Your session has ended. Please log in again.");

function storePath(suffix) {
  return `/api/v1/stores/${session().staff.store_id}${suffix}`;
}

function el(tag, props = {}, ...children) {
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

function show(node, message) {
  node.hidden = !message;
  node.textContent = message || "";
}

function dash(value, suffix = "") {
  return value === null || value === undefined ? "–" : `${value}${suffix}`;
}

function percent(share) {
  return share === null || share === undefined ? "–" : `${Math.round(share * 1000) / 10} %`;
}

function ago(ts) {
  if (!ts) return "never";
  const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return new Date(ts * 1000).toLocaleDateString();
}

function seconds(value) {
  if (value === null || value === undefined) return "–";
  return value < 120 ? `${value} s` : `${Math.round(value / 6) / 10} min`;
}

// datetime-local inputs speak the browser's local time; the API speaks Unix seconds.
function toLocalInput(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

function fromLocalInput(value) {
  return value ? new Date(value).getTime() / 1000 : null;
}

function numberOrNull(input) {
  return input.value === "" ? null : Number(input.value);
}

// Show each of the API's field errors next to its field; what fits no field goes to `general`.
function showFieldErrors(form, error, general) {
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

function clearErrors(form, general) {
  for (const slot of form.querySelectorAll(".field-error")) show(slot, "");
  for (const field of form.querySelectorAll(".field.invalid")) field.classList.remove("invalid");
  if (general) show(general, "");
}

// ---------- login and tabs ----------

function showLogin(message) {
  localStorage.removeItem(TOKEN_KEY);
  if (socket) { socket.disconnect(); socket = null; }
  for (const panel of document.querySelectorAll(".panel")) panel.hidden = true;
  $("tabs").hidden = $("who").hidden = $("logout").hidden = $("link").hidden = true;
  $("login").hidden = false;
  show($("login-error"), message);
}

function showConsole() {
  const s = session();
  $("login").hidden = true;
  $("tabs").hidden = $("who").hidden = $("logout").hidden = $("link").hidden = false;
  $("who").textContent = `${s.staff.name} · ${s.staff.store_name}`;
  selectTab(location.hash.slice(1) || "campaigns");
  loadLayout().then(loadCampaigns);
  connect();
}

function selectTab(name) {
  if (!$(`tab-${name}`)) name = "campaigns";
  for (const tab of $("tabs").querySelectorAll("[role=tab]")) {
    const selected = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(selected));
    $(tab.getAttribute("aria-controls")).hidden = !selected;
  }
  if (location.hash.slice(1) !== name) history.replaceState(null, "", `#${name}`);
  if (name === "results") loadReport();
  // Not reloaded on every visit: a re-render would wipe what the manager is typing there.
  if (name === "layout" && !layoutLoaded) loadLayout();
  if (name === "live") show($("live-badge"), "");
}

for (const tab of document.querySelectorAll("#tabs [role=tab]")) {
  tab.addEventListener("click", () => selectTab(tab.id.slice(4)));
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const body = await api("/api/v1/auth/login", {
      method: "POST",
      body: JSON.stringify({ email: $("email").value, password: $("password").value }),
    });
    $("password").value = "";
    if (body.staff.role !== "manager") {
      fetch("/api/v1/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${body.token}` } });
      showLogin("This console is for managers; staff use the tablet page (/staff).");
      return;
    }
    localStorage.setItem(TOKEN_KEY, JSON.stringify(body));
    showConsole();
  } catch (error) {
    showLogin(error.message);
  }
});

$("logout").addEventListener("click", async () => {
  await api("/api/v1/auth/logout", { method: "POST" }).catch(() => {});
  showLogin();
});

// ---------- campaigns ----------

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

async function loadCampaigns() {
  try {
    campaigns = (await api(storePath("/campaigns"))).campaigns;
    renderCampaigns();
    show($("campaigns-error"), "");
  } catch (error) {
    if (error.status !== 401) show($("campaigns-error"), error.message);
  }
}

function renderCampaigns() {
  const rows = campaigns.map((c) => {
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
  $("campaign-table").hidden = campaigns.length === 0;
  $("campaigns-empty").hidden = campaigns.length > 0;
}

async function setActive(campaign, action) {
  try {
    const updated = await api(storePath(`/campaigns/${campaign.id}/${action}`), { method: "POST", body: "{}" });
    campaigns = campaigns.map((c) => (c.id === updated.id ? updated : c));
    renderCampaigns();
    show($("campaigns-error"), "");
  } catch (error) {
    if (error.status !== 401) show($("campaigns-error"), error.message);
  }
}

function fillZoneSelects() {
  for (const select of document.querySelectorAll(".zone-select")) {
    const keep = select.value;
    const first = select.options[0];
    const byName = select.id === "c-zone" || select.id === "c-visited-zone";
    const options = zones.map((z) => el("option", { value: byName ? z.name : String(z.id), textContent: `${z.label} (${z.name})` }));
    select.replaceChildren(first, ...options);
    select.value = keep;
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

for (const li of channelList()) {
  li.querySelector(".up").addEventListener("click", () => li.previousElementSibling && li.previousElementSibling.before(li));
  li.querySelector(".down").addEventListener("click", () => li.nextElementSibling && li.nextElementSibling.after(li));
}

function syncCampaignForm() {
  $("dwell").hidden = $("c-trigger").value !== "zone_dwell";
  $("discount-value-field").hidden = $("c-discount-kind").value === "none";
  $("c-discount-value").setAttribute("aria-label", $("c-discount-kind").value === "amount" ? "Amount off" : "Percent off");
  $("c-valid-minutes").disabled = !$("c-valid-for").checked;
  $("c-valid-until").disabled = $("c-valid-for").checked;
}

for (const id of ["c-trigger", "c-discount-kind", "c-valid-for", "c-valid-until-choice"]) {
  $(id).addEventListener("change", syncCampaignForm);
}

function openCampaignForm(campaign) {
  const form = $("campaign-form");
  clearErrors(form, $("campaign-form-error"));
  editing = campaign ? campaign.id : null;
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

$("campaign-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const path = editing ? storePath(`/campaigns/${editing}`) : storePath("/campaigns");
  try {
    const saved = await api(path, { method: editing ? "PUT" : "POST", body: JSON.stringify(campaignBody()) });
    clearErrors(form, $("campaign-form-error"));
    form.hidden = true;
    editing = null;
    campaigns = campaigns.some((c) => c.id === saved.id)
      ? campaigns.map((c) => (c.id === saved.id ? saved : c))
      : [...campaigns, saved];
    renderCampaigns();
  } catch (error) {
    if (error.status !== 401) showFieldErrors(form, error, $("campaign-form-error"));
  }
});

$("new-campaign").addEventListener("click", () => openCampaignForm(null));
$("campaign-cancel").addEventListener("click", () => { $("campaign-form").hidden = true; editing = null; });

// ---------- results ----------

function cells(...values) {
  return el("tr", {}, ...values.map((v) => el("td", { textContent: v })));
}

function fillBody(table, rows, emptyText) {
  const columns = table.tHead ? table.tHead.rows[0].cells.length : 2;
  table.tBodies[0].replaceChildren(
    ...(rows.length ? rows : [el("tr", { class: "none" }, el("td", { colSpan: columns, textContent: emptyText }))]),
  );
}

async function loadReport() {
  try {
    const report = await api(storePath("/report"));
    show($("report-error"), "");
    renderReport(report);
  } catch (error) {
    if (error.status !== 401) show($("report-error"), error.message);
  }
}

function renderReport(r) {
  fillBody(
    $("report-campaigns"),
    r.campaigns.map((c) => {
      const other = Object.entries(c.outcomes || {})
        .filter(([k]) => k !== "sent")
        .map(([k, n]) => `${k.replaceAll("_", " ")}: ${n}`)
        .join(", ");
      const lift = c.lift === null || c.lift === undefined ? "–" : `${c.lift > 0 ? "+" : ""}${Math.round(c.lift * 1000) / 10} %`;
      return cells(c.name || `#${c.campaign_id}`, c.sent, c.redeemed, percent(c.redemption_rate),
        percent(c.returned_rate_sent), percent(c.returned_rate_holdout), lift, other || "–");
    }),
    "No campaign has decided anything yet.",
  );
  const p = r.pickups;
  fillBody($("report-pickups"), [
    cells("Pickup arrivals", p.alerts),
    cells("Escalated to a manager", p.escalated),
    cells("Staff response, median", seconds(p.staff_response_p50_s)),
    cells("Staff response, 95th percentile", seconds(p.staff_response_p95_s)),
    cells("Customer wait, median", seconds(p.wait_p50_s)),
    cells("Customer wait, 95th percentile", seconds(p.wait_p95_s)),
  ], "");
  fillBody($("report-care"), r.care_score.map((w) => cells(w.week, w.answers, percent(w.care_score))), "No survey answers yet.");
  fillBody(
    $("report-gateways"),
    r.gateways.map((g) => {
      const hb = g.heartbeat || {};
      return cells(g.id, ago(g.last_heartbeat_at), dash(hb.adapter_state), dash(hb.adverts_per_s), dash(hb.outbox_depth));
    }),
    "No gateways.",
  );
  fillBody(
    $("report-beacons"),
    r.beacons.map((b) => cells(b.id, b.kind, ago(b.last_seen_at), dash(b.battery_mv, " mV"), dash(b.temperature_c, " °C"))),
    "No beacons.",
  );
}

$("refresh-report").addEventListener("click", loadReport);

// ---------- layout ----------

async function loadLayout() {
  try {
    const layout = await api(storePath("/layout"));
    zones = layout.zones;
    layoutLoaded = true;
    fillZoneSelects();
    renderLayout(layout);
    show($("layout-error"), "");
  } catch (error) {
    if (error.status !== 401) show($("layout-error"), error.message);
  }
}

function zoneOptions(selected, noneText) {
  return [
    el("option", { value: "", textContent: noneText, selected: selected === null }),
    ...zones.map((z) => el("option", { value: String(z.id), textContent: `${z.label} (${z.name})`, selected: z.id === selected })),
  ];
}

function rowError(row, message) {
  show(row.querySelector(".row-error"), message);
}

function notice(message) {
  show($("layout-notice"), message);
}

function staleNotice(stale) {
  if (stale && stale.length) {
    notice(`These campaigns still name the old zone; edit them: ${stale.join(", ")}`);
  }
}

function renderLayout(layout) {
  const kindNames = { entrance: "entrance", zone: "zone", bay: "curbside bay" };
  fillBody(
    $("zone-table"),
    layout.zones.map((z) => {
      const name = el("input", { value: z.name, maxLength: 100, "aria-label": `Name of ${z.name}` });
      const kind = el("select", { "aria-label": `Kind of ${z.name}` },
        ...Object.entries(kindNames).map(([value, text]) => el("option", { value, textContent: text, selected: value === z.kind })));
      const label = el("input", { value: z.label, maxLength: 200, "aria-label": `Label of ${z.name}` });
      const row = el("tr", { dataset: { zoneId: z.id, zone: z.name } });
      const save = el("button", {
        type: "button", class: "save", textContent: "Save",
        onclick: async () => {
          try {
            const out = await api(storePath(`/zones/${z.id}`), {
              method: "PUT", body: JSON.stringify({ name: name.value, kind: kind.value, label: label.value }),
            });
            notice(`Zone “${out.zone.name}” saved.`);
            staleNotice(out.stale_campaigns);
            await loadLayout();
          } catch (error) { rowError(row, fieldMessages(error)); }
        },
      });
      const remove = el("button", {
        type: "button", class: "delete danger", textContent: "Delete",
        onclick: async () => {
          if (remove.dataset.armed !== "true") {
            remove.dataset.armed = "true";
            remove.textContent = "Really delete?";
            return;
          }
          try {
            const out = await api(storePath(`/zones/${z.id}`), { method: "DELETE" });
            notice(`Zone “${z.name}” deleted; gateways and beacons there now have no zone.`);
            staleNotice(out.stale_campaigns);
            await loadLayout();
          } catch (error) { rowError(row, error.message); }
        },
      });
      row.append(
        el("td", {}, name), el("td", {}, kind), el("td", {}, label),
        el("td", { class: "actions" }, save, remove, el("span", { class: "row-error error", role: "alert", hidden: true })),
      );
      return row;
    }),
    "No zones yet.",
  );

  fillBody(
    $("gateway-table"),
    layout.gateways.map((g) => {
      const zone = el("select", { class: "zone", "aria-label": `Zone of ${g.id}` }, ...zoneOptions(g.zone_id, "none (shop floor)"));
      const offset = el("input", {
        class: "offset", type: "number", step: "0.5", min: "-20", max: "20",
        value: String(g.rssi_offset_db), "aria-label": `Calibration of ${g.id} in dB`,
        oninput: () => { row.querySelector(".saved").textContent = ""; },
      });
      const row = el("tr", { dataset: { gatewayId: g.id } });
      const save = el("button", {
        type: "button", class: "save", textContent: "Save",
        onclick: async () => {
          try {
            const out = await api(storePath(`/gateways/${encodeURIComponent(g.id)}`), {
              method: "PUT",
              body: JSON.stringify({
                zone_id: zone.value === "" ? null : Number(zone.value),
                rssi_offset_db: offset.value === "" ? null : Number(offset.value),
              }),
            });
            rowError(row, "");
            offset.value = String(out.rssi_offset_db);
            row.querySelector(".saved").textContent = "saved";
            notice(`Gateway ${out.id} saved: ${out.zone || "no zone"}, ${out.rssi_offset_db} dB. It takes effect with its next upload.`);
          } catch (error) { rowError(row, fieldMessages(error)); }
        },
      });
      const hb = g.heartbeat || {};
      const status = g.status === "online" ? `online${hb.adapter_state ? ` · ${hb.adapter_state}` : ""}` : g.status.replace("_", " ");
      row.append(
        el("td", { class: "id", textContent: g.id }),
        el("td", {}, zone),
        el("td", {}, offset),
        el("td", { class: "status", textContent: status, dataset: { status: g.status } }),
        el("td", { textContent: ago(g.last_heartbeat_at) }),
        el("td", { class: "actions" }, save, el("span", { class: "saved", role: "status" }),
          el("span", { class: "row-error error", role: "alert", hidden: true })),
      );
      return row;
    }),
    "No gateways yet.",
  );

  fillBody(
    $("beacon-table"),
    layout.beacons.map((b) => {
      const row = el("tr", { dataset: { beaconId: b.id } });
      const zone = el("select", {
        "aria-label": `Zone of beacon ${b.identifier}`,
        onchange: async () => {
          try {
            await api(storePath(`/beacons/${b.id}`), {
              method: "PUT", body: JSON.stringify({ zone_id: zone.value === "" ? null : Number(zone.value) }),
            });
            rowError(row, "");
            notice(`Beacon ${b.identifier} moved.`);
          } catch (error) { rowError(row, fieldMessages(error)); }
        },
      }, ...zoneOptions(b.zone_id, "none"));
      const remove = el("button", {
        type: "button", class: "delete danger", textContent: "Remove",
        onclick: async () => {
          if (remove.dataset.armed !== "true") {
            remove.dataset.armed = "true";
            remove.textContent = "Really remove?";
            return;
          }
          try {
            await api(storePath(`/beacons/${b.id}`), { method: "DELETE" });
            notice(`Beacon ${b.identifier} removed.`);
            await loadLayout();
          } catch (error) { rowError(row, error.message); }
        },
      });
      row.append(
        el("td", { class: "id", textContent: b.identifier }),
        el("td", { textContent: b.kind }),
        el("td", {}, zone),
        el("td", { class: "health", textContent: b.health.replace("_", " "), dataset: { health: b.health } }),
        el("td", { textContent: ago(b.last_seen_at) }),
        el("td", { textContent: dash(b.battery_mv, " mV") }),
        el("td", { class: "actions" }, remove, el("span", { class: "row-error error", role: "alert", hidden: true })),
      );
      return row;
    }),
    "No beacons yet.",
  );
}

function fieldMessages(error) {
  return error.fields && error.fields.length
    ? error.fields.map((f) => `${f.loc.join(".")}: ${f.msg}`).join("; ")
    : error.message;
}

function layoutForm(id, path, bodyOf, onSaved) {
  const form = $(id);
  const general = form.querySelector(".form-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const out = await api(storePath(path), { method: "POST", body: JSON.stringify(bodyOf()) });
      clearErrors(form, general);
      form.reset();
      onSaved(out);
      await loadLayout();
    } catch (error) {
      if (error.status !== 401) showFieldErrors(form, error, general);
    }
  });
}

layoutForm("zone-form", "/zones", () => ({
  name: $("z-name").value, kind: $("z-kind").value, label: $("z-label").value || $("z-name").value,
}), (zone) => notice(`Zone “${zone.name}” added.`));

layoutForm("gateway-form", "/gateways", () => ({
  id: $("g-id").value,
  zone_id: $("g-zone").value === "" ? null : Number($("g-zone").value),
  rssi_offset_db: $("g-offset").value === "" ? 0 : Number($("g-offset").value),
}), (out) => {
  $("gateway-token-id").textContent = out.gateway.id;
  $("gateway-token-value").textContent = out.token;
  $("gateway-token").hidden = false;
  notice("");
});

layoutForm("beacon-form", "/beacons", () => ({
  kind: $("b-kind").value,
  identifier: $("b-identifier").value,
  zone_id: $("b-zone").value === "" ? null : Number($("b-zone").value),
}), (out) => notice(`Beacon ${out.identifier} registered; gateways upload it from their next config refresh.`));

$("refresh-layout").addEventListener("click", loadLayout);

// ---------- live: presence and escalations ----------

function addToFeed(list, emptyNote, item) {
  list.prepend(item);
  while (list.children.length > FEED_LIMIT) list.lastElementChild.remove();
  emptyNote.hidden = true;
}

function clock(ts) {
  return new Date(ts * 1000).toLocaleTimeString();
}

function onPresence(e) {
  const where = e.zone ? ` ${e.zone}` : "";
  const dwell = e.kind === "zone_dwell" && e.dwell_s ? ` for ${seconds(Math.round(e.dwell_s))}` : "";
  const item = el(
    "li",
    { class: "presence", dataset: { kind: e.kind } },
    el("time", { textContent: clock(e.at) }),
    el("span", { class: "what", textContent: `${e.first_name} ${PRESENCE[e.kind] || e.kind}${e.kind === "entered" ? "" : where}${dwell}` }),
    el("span", { class: "confidence", textContent: `confidence ${Math.round(e.confidence * 100)} %` }),
  );
  addToFeed($("presence"), $("presence-empty"), item);
}

function onArrival(a) {
  const item = el(
    "li",
    { class: "presence arrival", dataset: { kind: "arrival" } },
    el("time", { textContent: clock(a.arrived_at) }),
    el("span", { class: "what", textContent: `${a.first_name} arrived for pickup #${a.order_number} at ${a.where}` }),
  );
  addToFeed($("presence"), $("presence-empty"), item);
}

// On (re)connect: escalated pickups still waiting, so a console opened late misses none.
async function catchUpEscalations() {
  try {
    const { arrivals } = await api(storePath("/arrivals"));
    for (const a of arrivals) if (a.escalation_level > 0 && a.status === "raised") onEscalation(a, false);
  } catch { /* a 401 already shows the log-in */ }
}

function onEscalation(a, isNew = true) {
  const existing = $("escalations").querySelector(`[data-alert-id="${a.alert_id}"]`);
  const item = el(
    "li",
    { class: "escalation", dataset: { alertId: a.alert_id, status: a.status } },
    el("time", { textContent: clock(Date.now() / 1000) }),
    el("span", { class: "what", textContent: `Nobody has gone to ${a.first_name} (order #${a.order_number}) at ${a.where}` }),
    el("span", { class: "level", textContent: `escalation ${a.escalation_level}` }),
  );
  if (existing) existing.replaceWith(item);
  else addToFeed($("escalations"), $("escalations-empty"), item);
  if (isNew && $("live").hidden) show($("live-badge"), String(Number($("live-badge").textContent || 0) + 1));
}

function onAlertUpdated(a) {
  const item = $("escalations").querySelector(`[data-alert-id="${a.alert_id}"]`);
  if (!item) return;
  item.dataset.status = a.status;
  const words = { acknowledged: `${a.acknowledged_by} is on the way`, handed_over: "handed over", expired: "expired" };
  item.querySelector(".level").textContent = words[a.status] || `escalation ${a.escalation_level}`;
}

function connect() {
  const s = session();
  socket = io({ transports: ["websocket"], auth: { token: s.token } });
  window.consoleSocket = socket; // lets tests force a reconnect
  socket.on("connect", () => {
    $("link").dataset.state = "online";
    $("link").textContent = "live";
    catchUpEscalations();
  });
  socket.on("disconnect", () => { $("link").dataset.state = "offline"; $("link").textContent = "offline"; });
  socket.on("connect_error", () => api(storePath("/layout")).catch(() => {})); // 401 shows the log-in
  socket.on("presence", onPresence);
  socket.on("arrival", onArrival);
  socket.on("alert_escalated", (a) => onEscalation(a));
  socket.on("alert_updated", onAlertUpdated);
}

window.addEventListener("hashchange", () => { if (session()) selectTab(location.hash.slice(1)); });
if (session() && session().staff.role === "manager") showConsole(); else showLogin();
