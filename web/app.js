// The dashboard shell: language switch, token entry, navigation between views and live
// updates. Views are modules in ./views/ exporting `render(root, ctx)`; a new view (the load-
// shift optimizer of issue 6, for one) is one more entry in VIEWS and one more nav link.

import { getToken, setToken, watchHead } from "./api.js";
import { getLang, setLang, t, translate, num } from "./i18n.js";
import { sweep } from "./charts.js";
import * as park from "./views/park.js";
import * as enterprise from "./views/enterprise.js";
import * as advice from "./views/advice.js";

/** Views by the first part of the location hash (`#/park`, `#/enterprise/e-0001`). */
const VIEWS = {
  park,
  enterprise,
  advice,
};

const state = {
  head: null, // {size, checkpoint}
  renderSeq: 0,
  rendering: false,
  again: false,
};

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const name = parts[0] in VIEWS ? parts[0] : "park";
  return { name, args: parts.slice(1).map(decodeURIComponent) };
}

/** Renders the current view; while a render runs, a second request runs once after it. */
async function render() {
  if (state.rendering) {
    state.again = true;
    return;
  }
  state.rendering = true;
  try {
    do {
      state.again = false;
      const { name, args } = route();
      for (const a of document.querySelectorAll("nav a[data-view]")) {
        a.classList.toggle("active", a.dataset.view === name);
      }
      const root = document.getElementById("view");
      const seq = ++state.renderSeq;
      root.dataset.state = "loading";
      try {
        await VIEWS[name].render(root, { args, head: state.head });
        if (seq === state.renderSeq) {
          root.dataset.state = "ready";
          root.dataset.size = state.head ? String(state.head.size) : "";
        }
      } catch (e) {
        root.dataset.state = "error";
        root.replaceChildren(errorBox(e));
      }
      sweep();
    } while (state.again);
  } finally {
    state.rendering = false;
    const stamp = document.getElementById("updated");
    stamp.textContent = `${t("updated")} ${new Date().toLocaleTimeString(getLang() === "zh" ? "zh-CN" : "en-GB")}`;
  }
}

/** A box saying what failed. */
export function errorBox(e) {
  const div = document.createElement("div");
  div.className = "card error";
  div.dataset.testid = "error";
  if (e && (e.status === 401 || (e.status === 403 && !getToken()))) {
    div.textContent = t("need_token");
  } else {
    div.textContent = `${t("error")}: ${e && e.message ? e.message : e}`;
  }
  return div;
}

function showToken() {
  document.getElementById("token-status").textContent = getToken() ? t("token_saved") : t("token_none");
  document.getElementById("token").value = "";
}

let liveState = "offline";

function showLive() {
  const badge = document.getElementById("live");
  badge.dataset.state = liveState;
  badge.textContent = liveState === "live" ? t("live") : liveState === "polling" ? t("live_polling") : t("offline");
}

function setupShell() {
  const langSel = document.getElementById("lang");
  langSel.value = getLang();
  langSel.addEventListener("change", () => {
    setLang(langSel.value);
    translate();
    showToken();
    showLive();
    render();
  });
  const input = document.getElementById("token");
  document.getElementById("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    setToken(input.value.trim());
    showToken();
    restartLive();
    render();
  });
  document.getElementById("token-clear").addEventListener("click", () => {
    setToken("");
    showToken();
    restartLive();
    render();
  });
  showToken();
  window.addEventListener("hashchange", render);
}

let stopLive = null;

/** Head-triggered renders at most every RENDER_GAP_MS (a busy log signs several checkpoints a
 * second; the page follows within that gap and the server rebuilds its reports less often). */
const RENDER_GAP_MS = 2000;
let lastRender = 0;
let renderTimer = null;

function renderSoon() {
  if (renderTimer) return;
  const wait = Math.max(0, lastRender + RENDER_GAP_MS - Date.now());
  renderTimer = setTimeout(() => {
    renderTimer = null;
    lastRender = Date.now();
    render();
  }, wait);
}

function restartLive() {
  if (stopLive) stopLive();
  stopLive = watchHead(
    (head) => {
      const grew = !state.head || head.size !== state.head.size;
      state.head = head;
      const size = document.getElementById("head-size");
      size.textContent = num(head.size, 0);
      size.dataset.value = String(head.size);
      if (grew) renderSoon();
    },
    (s) => {
      liveState = s;
      showLive();
    },
  );
}

setLang(getLang());
translate();
setupShell();
restartLive();
render();
