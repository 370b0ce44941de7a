// Load-shift advice for one enterprise (issue 6): the week's load before and after the
// optimiser's plan over the grid-factor curve, the totals (modelled emissions cut at unchanged
// energy) and the advice lines, all from /api/v1/enterprises/{id}/optimize.

import { get } from "../api.js";
import { draw, COLORS } from "../charts.js";
import { h, stat, card } from "../dom.js";
import { t, num, mwh } from "../i18n.js";

/** Days the view plans: the latest whole week of data. */
const DAYS = 7;

/** What the optimiser may minimise (the API's `objective`). */
const OBJECTIVES = ["emissions", "cost", "blend"];

function chooser(list, current, objective) {
  const go = (id, obj) => {
    location.hash = `#/advice/${encodeURIComponent(id)}${obj && obj !== "emissions" ? `/${obj}` : ""}`;
  };
  const sel = h(
    "select",
    { testid: "advice-enterprise-select", onchange: (ev) => go(ev.target.value, objective) },
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
  const obj = current
    ? h(
        "label",
        {},
        ` ${t("advice_objective")}: `,
        h(
          "select",
          { testid: "advice-objective", onchange: (ev) => go(current, ev.target.value) },
          OBJECTIVES.map((o) => {
            // h() keeps `value` as data-value; an option needs its real value attribute.
            const opt = h("option", { selected: o === objective }, t(`objective_${o}`));
            opt.value = o;
            return opt;
          }),
        ),
      )
    : null;
  return h("div", { class: "toolbar" }, h("label", {}, `${t("enterprise")}: `, sel), obj);
}

function curveChart(a, later) {
  const el = h("div", { class: "chart tall", testid: "advice-chart" });
  const kw = 3600 / a.interval_s / 1000; // Wh per interval → kW
  later.push(() => {
    const at = (iv) => iv.start * 1000;
    const before = t("advice_load_before");
    const after = t("advice_load_after");
    const factor = `${t("factor_hourly")} (${t("g_per_kwh")})`;
    draw(el, {
      tooltip: { trigger: "axis" },
      legend: { top: 0, data: [before, after, factor] },
      grid: { left: 60, right: 60, top: 50, bottom: 60 },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 18, bottom: 8 }],
      xAxis: { type: "time" },
      yAxis: [
        { type: "value", name: "kW" },
        { type: "value", name: t("g_per_kwh"), scale: true, splitLine: { show: false } },
      ],
      series: [
        {
          // Before: warm, dashed, thin; after: cool, solid, thick — told apart in colour and
          // in style (also in print and for colour-blind readers); the factor is a faint step.
          name: before,
          type: "line",
          showSymbol: false,
          z: 3,
          lineStyle: { type: [6, 4], width: 1.5, color: COLORS.before },
          itemStyle: { color: COLORS.before },
          data: a.intervals.map((iv) => [at(iv), +(iv.load_before_wh * kw).toFixed(3)]),
        },
        {
          name: after,
          type: "line",
          showSymbol: false,
          z: 4,
          lineStyle: { type: "solid", width: 2.5, color: COLORS.after },
          itemStyle: { color: COLORS.after },
          data: a.intervals.map((iv) => [at(iv), +(iv.load_after_wh * kw).toFixed(3)]),
        },
        {
          name: factor,
          type: "line",
          step: "start",
          showSymbol: false,
          yAxisIndex: 1,
          z: 2,
          lineStyle: { width: 1, opacity: 0.6, color: COLORS.factor },
          itemStyle: { color: COLORS.factor },
          data: a.intervals.map((iv) => [at(iv), iv.factor]),
        },
      ],
    });
  });
  return el;
}

function totalsCard(a) {
  const tt = a.totals;
  const cut = tt.emissions_cut_g;
  return card(
    t("advice_totals"),
    h(
      "div",
      { class: "stats" },
      stat(t("advice_emissions_before"), num(tt.before.emissions_g / 1e6, 3), t("t_co2"), "advice-before-g", tt.before.emissions_g),
      stat(t("advice_emissions_after"), num(tt.after.emissions_g / 1e6, 3), t("t_co2"), "advice-after-g", tt.after.emissions_g),
      stat(t("advice_cut"), num(cut / 1e6, 3), t("t_co2"), "advice-cut-g", cut),
      stat(`${t("advice_cut")} (%)`, num(tt.emissions_cut_pct, 2), "%", "advice-cut-pct", tt.emissions_cut_pct),
      stat(t("advice_energy"), mwh(tt.after.consumption_wh), t("mwh"), "advice-energy-wh", tt.after.consumption_wh),
      stat(t("advice_cost_cut"), num(tt.cost_cut, 0), a.currency, "advice-cost-cut", tt.cost_cut),
    ),
    h(
      "p",
      { class: "small", testid: "advice-energy-unchanged", value: tt.energy_unchanged ? "true" : "false" },
      tt.energy_unchanged
        ? t("advice_energy_same", { before: num(tt.before.consumption_wh / 1e3, 0), after: num(tt.after.consumption_wh / 1e3, 0) })
        : t("advice_energy_changed"),
      ` · ${t("advice_moved")}: ${num(tt.moved_wh / 1e3, 0)} ${t("kwh")}`,
    ),
  );
}

function adviceList(a) {
  const rows = a.advice.map((c, i) =>
    h(
      "li",
      { testid: "advice-line", value: c.emissions_g, "data-index": String(i) },
      h("strong", {}, `${c.day} `),
      c.text,
    ),
  );
  const refused = a.refused.map((r) => h("li", { class: "muted", testid: "advice-refused" }, `${r.day}: ${r.reason}`));
  return card(
    t("advice_lines"),
    rows.length ? h("ol", { class: "advice-lines" }, rows) : h("p", { class: "muted" }, t("advice_none")),
    refused.length ? h("ul", {}, refused) : null,
  );
}

/** Renders the advice page into `root`; `ctx.args[0]` is the enterprise id, `ctx.args[1]` the
 * objective (default emissions). */
export async function render(root, ctx) {
  const list = await get("/enterprises");
  let id = ctx.args[0];
  if (!id && list.enterprises.length >= 1) id = list.enterprises[0].id;
  if (!id) {
    root.replaceChildren(h("div", { class: "grid" }, card(t("choose_enterprise"), chooser(list.enterprises, null, null))));
    return;
  }
  const objective = OBJECTIVES.includes(ctx.args[1]) ? ctx.args[1] : "emissions";
  let a;
  try {
    a = await get(`/enterprises/${encodeURIComponent(id)}/optimize`, { days: DAYS, objective });
  } catch (e) {
    // No plan for this enterprise (no whole day of data, no factors, no such enterprise):
    // say why, and keep the selector so another can be chosen.
    if (e.status === 401) throw e;
    root.replaceChildren(
      chooser(list.enterprises, id, objective),
      card(
        t("advice_error", { id }),
        h("p", { class: "warn", testid: "advice-error" }, e.message),
        h("p", { class: "muted small" }, t("choose_other")),
      ),
    );
    return;
  }
  const later = [];
  const last = a.per_day.length ? a.per_day[a.per_day.length - 1].day : a.first_day;
  root.replaceChildren(
    chooser(list.enterprises, id, objective),
    h("h1", { testid: "advice-enterprise" }, `${t("nav_advice")} · `, h("span", { class: "id" }, id)),
    h(
      "div",
      { class: "grid" },
      card(
        t("advice_curves"),
        h("p", { class: "muted small" }, h("span", { testid: "advice-period" }, `${a.first_day} – ${last}`), ` (${a.zone}) · ${t("advice_objective")}: ${t(`objective_${a.objective}`)}`),
        curveChart(a, later),
      ),
      totalsCard(a),
      adviceList(a),
      card(
        t("method"),
        h("p", { class: "small" }, a.method),
        h(
          "p",
          { class: "muted small", testid: "advice-provenance" },
          `${t("publication")}: ${a.provenance.factors.join(", ")} · ${t("ledger_size")}: ${a.provenance.checkpoint_size} · ${a.provenance.solver || ""}`,
        ),
      ),
    ),
  );
  for (const f of later) f();
}
