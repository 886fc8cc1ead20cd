// The store layout: zones, gateways (zone and calibration) and beacons, each editable in its
// table row, and the forms that add them.
import { api } from "../api.js";
import { state } from "./state.js";
import { $, ago, clearErrors, dash, el, fieldMessages, fillBody, show, showFieldErrors, storePath } from "./util.js";

export async function loadLayout() {
  try {
    const layout = await api(storePath("/layout"));
    state.zones = layout.zones;
    state.layoutLoaded = true;
    fillZoneSelects();
    renderLayout(layout);
    show($("layout-error"), "");
  } catch (error) {
    if (error.status !== 401) show($("layout-error"), error.message);
  }
}

// Every zone <select> on the page (campaign form and layout forms) offers the current zones.
function fillZoneSelects() {
  for (const select of document.querySelectorAll(".zone-select")) {
    const keep = select.value;
    const first = select.options[0];
    const byName = select.id === "c-zone" || select.id === "c-visited-zone";
    const options = state.zones.map((z) => el("option", { value: byName ? z.name : String(z.id), textContent: `${z.label} (${z.name})` }));
    select.replaceChildren(first, ...options);
    select.value = keep;
  }
}

function zoneOptions(selected, noneText) {
  return [
    el("option", { value: "", textContent: noneText, selected: selected === null }),
    ...state.zones.map((z) => el("option", { value: String(z.id), textContent: `${z.label} (${z.name})`, selected: z.id === selected })),
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

// Wire the layout forms and buttons (once, at start).
export function wireLayout() {
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
}
