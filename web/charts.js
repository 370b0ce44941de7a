// Apache ECharts (web/vendor/echarts, loaded as a classic script: window.echarts) behind two
// helpers. Each chart's element gets `data-points`: the number of non-empty data points it
// draws, so a test can see that a chart holds data without reading its canvas.

const charts = new Map();

function instance(el) {
  let c = charts.get(el);
  if (!c || c.isDisposed()) {
    c = window.echarts.init(el, null, { renderer: "canvas" });
    charts.set(el, c);
  }
  return c;
}

/** Draws `option` into `el` (replacing what was there). */
export function draw(el, option) {
  const c = instance(el);
  c.setOption({ animation: false, ...option }, { notMerge: true });
  let points = 0;
  for (const s of option.series || []) {
    for (const d of s.data || []) {
      const v = Array.isArray(d) ? d[d.length - 1] : d && typeof d === "object" ? d.value : d;
      if (v !== null && v !== undefined && !Number.isNaN(v)) points += 1;
    }
  }
  el.dataset.points = String(points);
  return c;
}

/** Disposes every chart whose element left the page. */
export function sweep() {
  for (const [el, c] of charts) {
    if (!document.body.contains(el)) {
      c.dispose();
      charts.delete(el);
    }
  }
}

window.addEventListener("resize", () => {
  for (const c of charts.values()) c.resize();
});

/** Colours used across the dashboard. */
export const COLORS = {
  factor: "#2f6f4f",
  mean: "#c0392b",
  scope1: "#8e6c3a",
  scope2: "#3a6f8e",
  market: "#7d8ea0",
  load: "#3a6f8e",
  pv: "#e2a93b",
  share: "#9fb7c9",
  before: "#c8553d",
  after: "#1f5fa8",
};
