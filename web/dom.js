// Building DOM without a framework.

/**
 * `h("div", {class: "card", testid: "x", value: 3}, child, …)`: an element. `testid` becomes
 * `data-testid`, `value` becomes `data-value` (the raw number behind what is shown, for tests
 * and for copying), other `data*`/`on*` keys do what they say.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "testid") el.dataset.testid = v;
    else if (k === "value") el.dataset.value = String(v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k.startsWith("data-")) el.setAttribute(k, v);
    else if (k === "style") el.style.cssText = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A figure: label, shown text, unit; `value` is the raw number kept in `data-value`. */
export function stat(label, shown, unit, testid, value) {
  return h(
    "div",
    { class: "stat" },
    h("div", { class: "stat-label" }, label),
    h("div", { class: "stat-value", testid, value }, shown, unit ? h("span", { class: "unit" }, ` ${unit}`) : null),
  );
}

/** A card with a title. */
export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, ...children);
}
