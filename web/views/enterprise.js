// One enterprise: load against the grid factor, emissions, fixed vs hourly with the reason,
// indicators, data issues, meter anomalies and the report download.

import { get } from "../api.js";
import { draw, COLORS } from "../charts.js";
import { h, stat, card } from "../dom.js";
import { t, num, tonnes, pct, mwh } from "../i18n.js";
import { issuesCard, anomaliesCard, coverageBanner, reportCard } from "./park.js";
import { documentsCard } from "./outcomes.js";

function chooser(list, current) {
  const sel = h(
    "select",
    {
      testid: "enterprise-select",
      onchange: (ev) => {
        location.hash = `#/enterprise/${encodeURIComponent(ev.target.value)}`;
      },
    },
    // Unless the current enterprise is among the options, a first blank one, so that choosing
    // any enterprise (the first too) is a change.
    list.some((e) => e.id === current) ? null : h("option", { value: "", selected: true }, t("choose_enterprise")),
    list.map((e) => {
      // h() keeps `value` as data-value; an option needs its real value attribute.
      const opt = h("option", { selected: e.id === current }, e.id);
      opt.value = e.id;
      return opt;
    }),
  );
  return h("div", { class: "toolbar" }, h("label", {}, `${t("enterprise")}: `, sel));
}

function loadChart(loads, later) {
  const el = h("div", { class: "chart tall", testid: "load-chart" });
  later.push(() => {
    const series = [];
    const legend = [];
    for (const s of loads.series) {
      if (!["electricity_import", "pv_generation"].includes(s.carrier)) continue;
      const name = `${s.carrier === "pv_generation" ? t("pv") : t("load")} (${s.unit})`;
      legend.push(name);
      series.push({
        name,
        type: "line",
        showSymbol: false,
        sampling: "lttb",
        yAxisIndex: 0,
        itemStyle: { color: s.carrier === "pv_generation" ? COLORS.pv : COLORS.load },
        data: s.values_milli.map((v, i) => [(loads.start_unix + i * loads.interval_s) * 1000, v === null ? null : v / 1000]),
      });
    }
    if (loads.factors) {
      const f = loads.factors;
      const name = `${t("factor_hourly")} (${t("g_per_kwh")})`;
      legend.push(name);
      series.push({
        name,
        type: "line",
        step: "start",
        showSymbol: false,
        yAxisIndex: 1,
        itemStyle: { color: COLORS.factor },
        data: f.g_per_kwh.map((v, i) => [(f.start_unix + i * f.interval_s) * 1000, v]),
      });
    }
    draw(el, {
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: legend },
      grid: { left: 60, right: 60, top: 50, bottom: 60 },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
      xAxis: { type: "time" },
      yAxis: [
        { type: "value", name: t("kwh") },
        { type: "value", name: t("g_per_kwh"), scale: true, splitLine: { show: false } },
      ],
      series,
    });
  });
  return card(
    t("load_vs_factor"),
    el,
    h("p", { class: "muted small" }, `${loads.start} – ${loads.end} · ${loads.interval_s / 60} min · ${t("method")}: ${loads.method}`),
  );
}

/** A local hour as `HH:00`. */
function hh(hour) {
  return `${String(hour).padStart(2, "0")}:00`;
}

function comparisonCard(cmp, later) {
  const c = cmp.comparison;
  if (!c) return card(t("fixed_vs_dynamic"), h("p", { class: "muted" }, t("none")));
  const w = c.window;
  const hourEl = h("div", { class: "chart", testid: "hour-chart" });
  later.push(() => {
    const fixed = cmp.fixed_factor ? cmp.fixed_factor.t_per_mwh * 1000 : null;
    draw(hourEl, {
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: [t("share_of_use"), t("mean_factor"), t("fixed_factor")] },
      grid: { left: 50, right: 60, top: 50, bottom: 30 },
      xAxis: { type: "category", data: c.by_hour.map((x) => String(x.hour)) },
      yAxis: [
        { type: "value", name: "%", splitLine: { show: false } },
        { type: "value", name: t("g_per_kwh"), scale: true },
      ],
      series: [
        { name: t("share_of_use"), type: "bar", data: c.by_hour.map((x) => +(x.share * 100).toFixed(2)), itemStyle: { color: COLORS.share } },
        { name: t("mean_factor"), type: "line", yAxisIndex: 1, data: c.by_hour.map((x) => x.mean_factor_g_per_kwh), itemStyle: { color: COLORS.factor } },
        { name: t("fixed_factor"), type: "line", yAxisIndex: 1, symbol: "none", data: c.by_hour.map(() => fixed), lineStyle: { type: "dashed" }, itemStyle: { color: COLORS.mean } },
      ],
    });
  });
  return card(
    t("fixed_vs_dynamic"),
    h(
      "div",
      { class: "stats" },
      stat(t("fixed"), tonnes(c.fixed_g), t("t_co2"), "cmp-fixed", c.fixed_g),
      stat(t("dynamic"), tonnes(c.dynamic_g), t("t_co2"), "cmp-dynamic", c.dynamic_g),
      stat(t("difference"), tonnes(c.difference_g), t("t_co2"), "cmp-difference", c.difference_g),
      stat(`${t("difference")} (%)`, num(c.difference_pct, 1), "%", "cmp-difference-pct", c.difference_pct),
    ),
    h(
      "p",
      { class: "small" },
      `${t("season")}: `,
      h("span", { testid: "cmp-season", value: c.season_g }, `${tonnes(c.season_g)} ${t("t_co2")}`),
      ` · ${t("timing")}: `,
      h("span", { testid: "cmp-timing", value: c.timing_g }, `${tonnes(c.timing_g)} ${t("t_co2")}`),
      ` · ${t("fixed_factor")}: ${cmp.fixed_factor ? cmp.fixed_factor.t_per_mwh : t("none")} t/MWh (${cmp.fixed_factor ? t(`basis_${cmp.fixed_factor.basis}`) : ""})`,
    ),
    w
      ? h(
          "p",
          { class: "window" },
          t("window_sentence", {
            from: hh(w.from_hour),
            to: hh(w.to_hour),
            share: pct(w.share),
            pct: `${w.factor_vs_fixed_pct > 0 ? "+" : ""}${num(w.factor_vs_fixed_pct, 1)}%`,
          }),
        )
      : null,
    c.reason
      ? h("p", {}, h("strong", {}, `${t("reason")}: `), h("span", { testid: "cmp-reason" }, c.reason))
      : h("p", { class: "muted", testid: "cmp-no-reason" }, t("nothing_to_compare")),
    h("h3", {}, t("by_hour")),
    hourEl,
  );
}

function indicatorsCard(ind) {
  const i = ind.indicators;
  const intensity = i.intensity;
  return card(
    t("indicators"),
    h(
      "div",
      { class: "stats" },
      stat(t("green_share"), pct(i.green_share), "", "ind-green-share", i.green_share ?? ""),
      stat(t("cfe_score"), pct(i.cfe_score), "", "ind-cfe-score", i.cfe_score ?? ""),
      stat(t("consumption"), mwh(i.consumption_wh), t("mwh"), "ind-consumption", i.consumption_wh),
    ),
    intensity
      ? h(
          "p",
          { class: "small" },
          `${t("intensity")}: ${num(intensity.electricity_kwh_per_unit, 2)} kWh/${intensity.unit} · ${num(intensity.location_t_per_unit, 4)} t CO₂/${intensity.unit}`,
        )
      : null,
  );
}

function emissionsCard(em) {
  const filled = em.filled_share;
  return card(
    t("total_emissions"),
    h("p", { class: "muted small" }, `${t("period")}: `, h("span", { testid: "enterprise-period" }, `${em.period.start} – ${em.period.end}`)),
    h(
      "div",
      { class: "stats" },
      stat(t("scope1"), tonnes(em.scope1.fossil_g), t("t_co2"), "em-scope1", em.scope1.fossil_g),
      stat(t("scope2_location"), tonnes(em.scope2_location.total_g), t("t_co2"), "em-scope2-location", em.scope2_location.total_g),
      stat(t("scope2_market"), tonnes(em.scope2_market.total_g), t("t_co2"), "em-scope2-market", em.scope2_market.total_g),
      filled ? stat(t("filled_share"), pct(filled.share), "", "em-filled-share", filled.share) : null,
    ),
    filled
      ? h(
          "p",
          { class: filled.filled_values > 0 ? "warn small" : "muted small", testid: "em-filled-note" },
          t("filled_note", { filled: num(filled.filled_values, 0), values: num(filled.values, 0) }),
        )
      : null,
  );
}

/** Renders the enterprise page into `root`; `ctx.args[0]` is the enterprise id. */
export async function render(root, ctx) {
  const list = await get("/enterprises");
  let id = ctx.args[0];
  if (!id && list.enterprises.length === 1) id = list.enterprises[0].id;
  if (!id) {
    root.replaceChildren(h("div", { class: "grid" }, card(t("choose_enterprise"), chooser(list.enterprises, null))));
    return;
  }
  const q = `/enterprises/${encodeURIComponent(id)}`;
  const [loads, em, cmp, ind, issues, anomalies, status] = await Promise.all([
    get(`${q}/loads`),
    get(`${q}/emissions`),
    get(`${q}/comparison`),
    get(`${q}/indicators`),
    get(`${q}/issues`),
    get(`${q}/anomalies`).catch((e) => e),
    get("/status"),
  ]);
  const later = [];
  root.replaceChildren(
    chooser(list.enterprises, id),
    coverageBanner(em.factor_coverage) || "",
    h("h1", { class: "id", testid: "enterprise-id" }, id),
    h("p", {}, h("a", { href: `#/advice/${encodeURIComponent(id)}`, testid: "advice-link" }, `${t("advice_link")} →`)),
    h(
      "div",
      { class: "grid" },
      loadChart(loads, later),
      emissionsCard(em),
      comparisonCard(cmp, later),
      indicatorsCard(ind),
      issuesCard(issues),
      anomaliesCard(anomalies),
      reportCard(`/enterprises/${encodeURIComponent(id)}/report`, id),
      documentsCard(id, (status.inputs || []).at(-1)),
    ),
  );
  for (const f of later) f();
}
