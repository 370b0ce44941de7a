// The park overview: ledger, today's factor curve against the annual mean, emissions by
// enterprise, green-power share, fixed vs hourly, alerts (data issues and meter anomalies).

import { get, getToken, getCheckpoint, download } from "../api.js";
import { outcomesCard } from "./outcomes.js";
import { draw, COLORS } from "../charts.js";
import { h, stat, card } from "../dom.js";
import { t, num, tonnes, pct, mwh } from "../i18n.js";

/** The factor curve card (also used by the enterprise page). */
export function factorCard(curve, later) {
  const chart = h("div", { class: "chart", testid: "factor-chart" });
  const title = curve.is_today ? t("factor_today") : t("factor_day", { day: curve.day });
  const el = card(
    title,
    curve.synthetic ? h("p", { class: "warn", testid: "synthetic" }, t("synthetic")) : null,
    curve.is_today ? null : h("p", { class: "muted" }, t("factor_not_today")),
    h(
      "div",
      { class: "stats" },
      stat(t("annual_mean"), num(curve.annual_mean ? curve.annual_mean.g_per_kwh : null, 1), t("g_per_kwh"), "annual-mean", curve.annual_mean ? curve.annual_mean.g_per_kwh : ""),
      stat(t("day_mean"), num(curve.day_mean_g_per_kwh, 1), t("g_per_kwh"), "day-mean", curve.day_mean_g_per_kwh ?? ""),
    ),
    chart,
    h(
      "p",
      { class: "muted small" },
      `${t("publication")}: `,
      h("span", { testid: "factor-publication" }, curve.publication),
      ` · ${t("region")}: ${curve.region} · `,
      h("span", { testid: "factor-day" }, curve.day),
      curve.annual_mean ? ` · ${t("annual_mean")}: ${curve.annual_mean.method}` : "",
    ),
  );
  later.push(() => {
    const hours = curve.hours.map((x) => `${String(x.hour).padStart(2, "0")}:00`);
    const mean = curve.annual_mean ? curve.annual_mean.g_per_kwh : null;
    draw(chart, {
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: [t("factor_hourly"), t("annual_mean")] },
      grid: { left: 50, right: 20, top: 50, bottom: 30 },
      xAxis: { type: "category", data: hours },
      yAxis: { type: "value", name: t("g_per_kwh"), scale: true },
      series: [
        {
          name: t("factor_hourly"),
          type: "line",
          data: curve.hours.map((x) => x.g_per_kwh),
          itemStyle: { color: COLORS.factor },
          areaStyle: { opacity: 0.08 },
        },
        {
          name: t("annual_mean"),
          type: "line",
          data: curve.hours.map(() => mean),
          symbol: "none",
          lineStyle: { type: "dashed", color: COLORS.mean },
          itemStyle: { color: COLORS.mean },
        },
      ],
    });
  });
  return el;
}

/** The ledger card: size, latest checkpoint, witnesses. */
export function ledgerCard(status) {
  const cp = status.checkpoint;
  return card(
    t("ledger"),
    h(
      "div",
      { class: "stats" },
      stat(t("ledger_size"), num(status.size, 0), "", "ledger-size", status.size),
      stat(t("checkpoint"), cp ? num(cp.size, 0) : t("none"), "", "checkpoint-size", cp ? cp.size : ""),
      stat(t("witnesses"), num(status.cosignatures.length, 0), "", "witness-count", status.cosignatures.length),
    ),
    cp ? h("p", { class: "mono small" }, `${t("root")}: `, h("span", { testid: "checkpoint-root" }, cp.root)) : null,
    h(
      "ul",
      { class: "small", testid: "witnesses" },
      status.cosignatures.length
        ? status.cosignatures.map((w) => h("li", { class: "mono" }, `${w.name} (${w.key_id})`))
        : h("li", { class: "muted" }, t("no_witnesses")),
    ),
    h("p", { class: "mono small muted" }, `${t("verifier_key")}: ${status.verifier_key}`),
  );
}

/** The ledger as anyone can see it, without a token: the public checkpoint's origin, size and
 * root. */
export function publicLedgerCard(cp) {
  return card(
    t("ledger"),
    h(
      "div",
      { class: "stats" },
      stat(t("ledger_size"), num(cp.size, 0), "", "ledger-size", cp.size),
      stat(t("checkpoint"), num(cp.size, 0), "", "checkpoint-size", cp.size),
    ),
    h("p", { class: "mono small" }, `${t("root")}: `, h("span", { testid: "checkpoint-root" }, cp.root)),
    h("p", { class: "mono small muted" }, `${t("log_origin")}: `, h("span", { testid: "checkpoint-origin" }, cp.origin)),
    h("p", { class: "muted small" }, t("public_note")),
  );
}

/** Where a token comes from, for a page opened without one. */
export function tokenHelpCard() {
  return card(t("token_help_title"), h("p", { testid: "token-help" }, t("token_help")));
}

/** A loud banner when the factor series does not cover the period (`factor_coverage.complete`
 * false), naming the series' span; nothing when it covers it or the API does not say. */
export function coverageBanner(coverage) {
  if (!coverage || coverage.complete !== false) return null;
  return h(
    "div",
    { class: "banner loud", testid: "coverage-banner", role: "alert" },
    t("coverage_banner", {
      series: coverage.series ?? t("none"),
      from: coverage.series_from ?? t("none"),
      to: coverage.series_to ?? t("none"),
      missing: num(coverage.intervals_without_factor, 0),
      intervals: num(coverage.intervals, 0),
    }),
  );
}

/** The anomaly alerts as list items (at most 50): span, meter, kind and the evidence sentence. */
export function anomalyItems(anomalies) {
  return anomalies.alerts.slice(0, 50).map((a) =>
    h(
      "li",
      { testid: "anomaly", "data-kind": a.kind, "data-meter": a.meter },
      h("span", { class: "tag" }, t(`kind_${a.kind}`)),
      " ",
      h("span", { class: "id" }, a.meter),
      ` · ${a.start} – ${a.end}: `,
      h("span", { class: "muted" }, a.evidence.reason),
    ),
  );
}

/** The anomalies card of the enterprise page: count, list and what they mean. */
export function anomaliesCard(anomalies) {
  if (anomalies instanceof Error) return card(t("anomalies"), h("p", { class: "muted" }, anomalies.message));
  return card(
    t("anomalies"),
    h("div", { class: "stats" }, stat(t("anomaly_count"), num(anomalies.count, 0), "", "anomaly-count", anomalies.count)),
    anomalies.count
      ? h("ul", { class: "issues", testid: "anomalies" }, anomalyItems(anomalies))
      : h("p", { class: "muted" }, t("no_anomalies", { days: anomalies.days })),
    h("p", { class: "muted small" }, t("anomalies_note", { start: anomalies.start, end: anomalies.end })),
  );
}

/** The list of data issues, and the meters' anomaly alerts when given. */
export function issuesCard(issues, anomalies = null) {
  const items = [];
  for (const i of issues.log_issues || []) {
    items.push(h("li", {}, h("span", { class: "tag" }, t("issues_log")), ` ${i.subject}: ${i.message}`));
  }
  for (const i of issues.accounting_issues || []) {
    items.push(
      h("li", {}, h("span", { class: "tag" }, t("issues_accounting")), ` ${i.enterprise}: ${i.message} (${tonnes(i.effect_g)} ${t("t_co2")})`),
    );
  }
  for (const i of issues.ingest_issues || []) {
    items.push(h("li", {}, h("span", { class: "tag" }, t("issues_ingest")), ` #${i.index} ${i.code}: ${i.message}`));
  }
  const q = issues.quarantine;
  return card(
    t("alerts"),
    h("p", {}, h("strong", { testid: "issues-count", value: issues.count }, num(issues.count, 0)), q ? ` · ${num(q.count, 0)} ${t("quarantined")}` : ""),
    items.length ? h("ul", { class: "issues", testid: "issues" }, items.slice(0, 50)) : h("p", { class: "muted" }, t("no_issues")),
    anomalies
      ? [
          h("h3", {}, t("anomalies")),
          h("p", {}, h("strong", { testid: "park-anomaly-count", value: anomalies.count }, num(anomalies.count, 0)), ` ${t("anomaly_count")} · ${anomalies.start} – ${anomalies.end}`),
          anomalies.count
            ? h("ul", { class: "issues", testid: "park-anomalies" }, anomalyItems(anomalies))
            : h("p", { class: "muted" }, t("no_anomalies", { days: anomalies.days })),
        ]
      : null,
  );
}

/** Renders the park overview into `root`. Without a token: the public ledger and where a token
 * comes from. */
/** The report downloads of `path` (`/park/report`, `/enterprises/E/report`) in every format,
 * saved as `name.<format>`. The workbook and the PDF carry the JSON's content hash. */
export function reportCard(path, name) {
  const button = (format) =>
    h(
      "button",
      { type: "button", testid: `report-${format}`, onclick: () => download(`${path}?format=${format}`, `${name}.${format}`) },
      `${t("download")} ${t(`format_${format}`)}`,
    );
  return card(
    t("report"),
    h("div", { class: "buttons" }, ["xlsx", "pdf", "json", "csv", "html"].map(button)),
    h("p", { class: "muted small" }, t("report_note")),
  );
}

export async function render(root) {
  if (!getToken()) {
    const cp = await getCheckpoint();
    root.replaceChildren(h("div", { class: "grid" }, publicLedgerCard(cp), tokenHelpCard()));
    return;
  }
  const [status, curve] = await Promise.all([get("/status"), get("/factors/curve").catch((e) => e)]);
  // Outcomes with the latest inputs publication (value added and output), if any.
  const inputs = (status.inputs || []).at(-1);
  const outcomes = get("/park/outcomes", { inputs }).catch((e) => e);
  let parkData;
  try {
    parkData = await Promise.all([
      get("/park/emissions"),
      get("/park/indicators"),
      get("/park/comparison"),
      get("/park/issues"),
      // Alerts are extra: without them the overview still shows the figures.
      get("/park/anomalies").catch(() => null),
    ]);
  } catch (e) {
    if (e.status !== 403 && e.status !== 404) throw e;
    parkData = e;
  }
  const later = [];
  const cards = [ledgerCard(status)];
  cards.push(curve instanceof Error ? card(t("factor_today"), h("p", { class: "muted" }, curve.message)) : factorCard(curve, later));
  if (parkData instanceof Error && parkData.status === 404) {
    // No figures yet (no uploads, or no factor publication): say why, show the rest.
    cards.push(card(t("total_emissions"), h("p", { class: "muted", testid: "no-figures" }, parkData.message)));
    root.replaceChildren(h("div", { class: "grid" }, cards));
    for (const f of later) f();
    return;
  }
  if (parkData instanceof Error) parkData = null;
  if (!parkData) {
    const ents = await get("/enterprises");
    cards.push(
      card(
        t("enterprises"),
        h("p", {}, t("forbidden_park")),
        h("ul", {}, ents.enterprises.map((e) => h("li", {}, h("a", { class: "id", href: `#/enterprise/${encodeURIComponent(e.id)}` }, e.id)))),
      ),
    );
    root.replaceChildren(h("div", { class: "grid" }, cards));
    for (const f of later) f();
    return;
  }
  const [em, ind, cmp, issues, anomalies] = parkData;
  const tot = em.totals;
  const summary = card(
    `${t("total_emissions")}`,
    h("p", { class: "muted small" }, `${t("period")}: `, h("span", { testid: "park-period" }, `${em.period.start} – ${em.period.end}`), ` · ${t("enterprises")}: ${tot.enterprises}`),
    h(
      "div",
      { class: "stats" },
      stat(t("scope1"), tonnes(tot.scope1_g), t("t_co2"), "park-scope1", tot.scope1_g),
      stat(t("scope2_location"), tonnes(tot.scope2_location_g), t("t_co2"), "park-scope2-location", tot.scope2_location_g),
      stat(t("scope2_market"), tonnes(tot.scope2_market_g), t("t_co2"), "park-scope2-market", tot.scope2_market_g),
      stat(t("green_share"), pct(ind.totals.green_share), "", "park-green-share", ind.totals.green_share ?? ""),
      stat(t("consumption"), mwh(tot.consumption_wh), t("mwh"), "park-consumption", tot.consumption_wh),
      stat(
        t("difference"),
        `${tonnes(cmp.totals.difference_g)} (${num(cmp.totals.difference_pct, 1)}%)`,
        t("t_co2"),
        "park-difference",
        cmp.totals.difference_g,
      ),
      em.filled_share ? stat(t("filled_share"), pct(em.filled_share.share), "", "park-filled-share", em.filled_share.share) : null,
    ),
  );
  const chart = h("div", { class: "chart tall", testid: "emissions-chart" });
  // Filled shares and factor coverage come with reports that carry them.
  const hasFilled = em.enterprises.some((r) => r.filled_share);
  const byCmp = Object.fromEntries(cmp.enterprises.map((r) => [r.enterprise, r]));
  const byInd = Object.fromEntries(ind.enterprises.map((r) => [r.enterprise, r]));
  const table = h(
    "table",
    { testid: "enterprise-table" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, t("enterprise")),
        h("th", {}, `${t("scope1")} (${t("t_co2")})`),
        h("th", {}, `${t("scope2_location")} (${t("t_co2")})`),
        h("th", {}, `${t("consumption")} (${t("mwh")})`),
        h("th", {}, t("green_share")),
        h("th", {}, `${t("difference")} (${t("t_co2")})`),
        hasFilled ? h("th", {}, t("filled_share")) : null,
      ),
    ),
    h(
      "tbody",
      {},
      em.enterprises.map((r) =>
        h(
          "tr",
          { testid: "enterprise-row", "data-enterprise": r.enterprise },
          h("td", { class: "id" }, h("a", { href: `#/enterprise/${encodeURIComponent(r.enterprise)}` }, r.enterprise)),
          h("td", { class: "num", testid: "row-scope1", value: r.scope1_g }, tonnes(r.scope1_g)),
          h("td", { class: "num", testid: "row-scope2-location", value: r.scope2_location_g }, tonnes(r.scope2_location_g)),
          h("td", { class: "num", testid: "row-consumption", value: r.consumption_wh }, mwh(r.consumption_wh)),
          h("td", { class: "num", testid: "row-green-share", value: byInd[r.enterprise]?.green_share ?? "" }, pct(byInd[r.enterprise]?.green_share)),
          h("td", { class: "num", testid: "row-difference", value: byCmp[r.enterprise]?.difference_g ?? "" }, tonnes(byCmp[r.enterprise]?.difference_g)),
          hasFilled
            ? h(
                "td",
                { class: `num${r.filled_share && r.filled_share.share > 0 ? " warn" : ""}`, testid: "row-filled-share", value: r.filled_share ? r.filled_share.share : "" },
                r.filled_share ? pct(r.filled_share.share) : t("none"),
              )
            : null,
        ),
      ),
    ),
  );
  cards.push(
    summary,
    outcomesCard(await outcomes, inputs),
    card(t("emissions_by_enterprise"), chart, h("div", { class: "scroll" }, table)),
    issuesCard(issues, anomalies),
    reportCard("/park/report", "park"),
  );
  const banner = coverageBanner(em.factor_coverage);
  later.push(() => {
    const names = em.enterprises.map((r) => r.enterprise);
    draw(chart, {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, data: [t("scope1"), t("scope2_location")] },
      grid: { left: 60, right: 20, top: 50, bottom: 60 },
      xAxis: { type: "category", data: names, axisLabel: { rotate: 45 } },
      yAxis: { type: "value", name: t("t_co2") },
      series: [
        { name: t("scope1"), type: "bar", stack: "e", data: em.enterprises.map((r) => r.scope1_g / 1e6), itemStyle: { color: COLORS.scope1 } },
        { name: t("scope2_location"), type: "bar", stack: "e", data: em.enterprises.map((r) => r.scope2_location_g / 1e6), itemStyle: { color: COLORS.scope2 } },
      ],
    });
  });
  root.replaceChildren(banner || "", h("div", { class: "grid" }, cards));
  for (const f of later) f();
}
