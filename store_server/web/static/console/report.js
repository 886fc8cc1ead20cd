// Results: the store's report (campaign lift, pickups, help requests, care score, gateway and
// beacon health).
import { api } from "../api.js";
import { $, ago, cells, dash, fillBody, percent, seconds, show, storePath } from "./util.js";

export async function loadReport() {
  try {
    const report = await api(storePath("/report"));
    show($("report-error"), "");
    renderReport(report);
  } catch (error) {
    if (error.status !== 401) show($("report-error"), error.message);
  }
}

// Outcomes that read better in words than as their code.
const OUTCOME_WORDS = { unreachable: "not reachable now", no_consent: "no consent" };

function renderReport(r) {
  fillBody(
    $("report-campaigns"),
    r.campaigns.map((c) => {
      const other = Object.entries(c.outcomes || {})
        .filter(([k]) => k !== "sent")
        .map(([k, n]) => `${OUTCOME_WORDS[k] || k.replaceAll("_", " ")}: ${n}`)
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
  const h = r.help_requests;
  fillBody($("report-help"), [
    cells("Help requests", h.alerts),
    cells("Escalated to a manager", h.escalated),
    cells("Staff response, median", seconds(h.staff_response_p50_s)),
    cells("Staff response, 95th percentile", seconds(h.staff_response_p95_s)),
    cells("Until helped, median", seconds(h.wait_p50_s)),
    cells("Until helped, 95th percentile", seconds(h.wait_p95_s)),
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

// Wire the results tab's buttons (once, at start).
export function wireReport() {
  $("refresh-report").addEventListener("click", loadReport);
}
