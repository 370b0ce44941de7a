// Park outcomes against a baseline (tanji-outcomes/v1 from GET /api/v1/park/outcomes) and the
// downloads of the documents made from reports: outcomes, GHG inventory, product footprints.
// Every figure is the document's; an absent one shows its reason, never 0.

import { download } from "../api.js";
import { h, card } from "../dom.js";
import { t, num, getLang } from "../i18n.js";

/** The outcomes shown: label key, the period/baseline figure, the change figure, decimals. */
const ROWS = [
  ["outcome_energy", "tce", null, 2],
  ["outcome_efficiency", "value_added_per_tce", "value_added_per_tce_pct", 2],
  ["outcome_output_efficiency", "output_per_tce", "output_per_tce_pct", 2],
  ["outcome_cost", "cost", "cost_per_yr_pct", 0],
  ["outcome_green_share", "green_share", "green_share_points", 1],
  ["outcome_location", "location_t_per_yr", "location_t_per_yr", 1],
  ["outcome_market", "market_t_per_yr", "market_t_per_yr", 1],
];

/** One figure as a cell: its value and unit, or "—" and why it is absent. */
function cell(f, digits, testid) {
  if (!f) return h("td", {}, "");
  if (f.value === null || f.value === undefined) {
    // The reason is the document's (English); in Chinese it is the cell's tooltip.
    const why = getLang() === "zh" ? "" : ` ${f.absent ?? ""}`;
    return h("td", { class: "absent muted small", testid, title: f.absent ?? "", "data-absent": f.absent ?? "" }, `— ${t("absent_because")}${why}`);
  }
  return h("td", { class: "num", testid, value: f.value }, `${num(f.value, digits)} ${f.unit}`);
}

/** The outcomes of one subject (the park or an enterprise) as a table. */
function subjectTable(o) {
  return h(
    "table",
    { class: "outcomes", testid: "outcomes-table", "data-subject": o.subject },
    h(
      "thead",
      {},
      h("tr", {}, h("th", {}, ""), h("th", {}, t("baseline")), h("th", {}, t("period")), h("th", {}, t("change")), h("th", {}, t("method"))),
    ),
    h(
      "tbody",
      {},
      ROWS.map(([label, key, change, digits]) => {
        const p = o.period[key];
        return h(
          "tr",
          { testid: "outcome-row", "data-subject": o.subject, "data-key": key },
          h("th", {}, t(label)),
          cell(o.baseline[key], digits, "outcome-baseline"),
          cell(p, digits, "outcome-period"),
          change ? cell(o.change[change], 1, "outcome-change") : h("td", {}, ""),
          // The document's method (English); in Chinese its summary, the full text as tooltip.
          h("td", { class: "muted small", testid: "outcome-method", title: p.method }, getLang() === "zh" ? t(`${label}_method`) : p.method),
        );
      }),
    ),
  );
}

/** Download buttons of `path` in `formats`, saved as `name.<format>`; test ids `kind-format`.
 * A refused download says why in the card instead of failing silently. */
export function documentButtons(kind, path, name, formats, extra = {}) {
  const said = h("p", { class: "warn small", testid: `${kind}-error` });
  const button = (format) =>
    h(
      "button",
      {
        type: "button",
        testid: `${kind}-${format}`,
        onclick: () => {
          const q = new URLSearchParams({ ...extra, format });
          download(`${path}?${q}`, `${name}.${format === "pact" ? "pact.json" : format}`).catch((e) => {
            said.textContent = e.message;
          });
        },
      },
      `${t("download")} ${t(`format_${format}`)}`,
    );
  return [h("div", { class: "buttons" }, formats.map(button)), said];
}

/** The park's outcomes card: `doc` is the outcomes document, or the error that answered. */
export function outcomesCard(doc, inputs) {
  const extra = inputs ? { inputs } : {};
  if (doc instanceof Error) {
    return card(t("outcomes"), h("p", { class: "muted", testid: "outcomes-error" }, doc.message));
  }
  const advice = doc.park_outcomes.change.followed_advice_t_per_yr;
  // The downloads compare the same periods as what is shown.
  const asked = {
    ...extra,
    from: doc.period.start,
    to: doc.period.end,
    baseline_from: doc.baseline.start,
    baseline_to: doc.baseline.end,
  };
  return h(
    "section",
    { class: "card wide", testid: "outcomes" },
    h("h2", {}, t("outcomes")),
    h(
      "p",
      { class: "muted small" },
      `${t("period")}: `,
      h("span", { testid: "outcomes-period" }, `${doc.period.start} – ${doc.period.end}`),
      ` · ${t("baseline")}: `,
      h("span", { testid: "outcomes-baseline" }, `${doc.baseline.start} – ${doc.baseline.end}`),
      ` · ${t("outcomes_inputs")}: ${doc.parameters.inputs ?? t("none")}`,
      getLang() === "zh" ? "" : ` · ${doc.parameters.tariff}`,
    ),
    h("h3", {}, t("park")),
    subjectTable(doc.park_outcomes),
    doc.enterprises.map((e) => h("details", {}, h("summary", { class: "id" }, e.subject), subjectTable(e))),
    h(
      "p",
      { class: "muted small", testid: "outcomes-advice", title: advice.absent ?? "" },
      `${t("outcome_followed_advice")}: `,
      advice.absent ? (getLang() === "zh" ? t("outcome_advice_not_measurable") : advice.absent) : num(advice.value, 1),
    ),
    h("p", { class: "muted small" }, t("outcomes_note")),
    documentButtons("outcomes", "/park/outcomes", `${doc.park}-outcomes`, ["xlsx", "pdf", "json"], asked),
  );
}

/** An enterprise's documents: the GHG inventory, and with an inputs publication its product
 * footprints and their PACT export (footprints need one with production records). */
export function documentsCard(id, inputs) {
  const path = `/enterprises/${encodeURIComponent(id)}`;
  const extra = inputs ? { inputs } : {};
  return card(
    t("documents"),
    h("h3", {}, t("inventory")),
    documentButtons("inventory", `${path}/inventory`, `${id}-inventory`, ["xlsx", "pdf", "json"], extra),
    h("h3", {}, t("footprint")),
    inputs
      ? documentButtons("footprint", `${path}/footprint`, `${id}-footprint`, ["xlsx", "pdf", "json", "pact"], extra)
      : h("p", { class: "muted small", testid: "footprint-none" }, t("footprint_needs_inputs")),
    h("p", { class: "muted small" }, t("documents_note", { inputs: inputs ?? t("none") })),
  );
}
