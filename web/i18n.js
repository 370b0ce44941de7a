// The dashboard's two languages. Every visible string goes through t(); numbers through the
// formatters below, so switching language re-renders the page without refetching.

const STRINGS = {
  en: {
    title: "tanji — park carbon dashboard",
    brand: "tanji",
    nav_park: "Park overview",
    nav_enterprise: "Enterprise",
    token: "Access token",
    token_placeholder: "paste a token (operator, auditor or enterprise)",
    token_save: "Use",
    token_clear: "Forget",
    token_saved: "token stored in this browser",
    token_none: "no token: only public data",
    live: "live",
    live_polling: "live (polling)",
    offline: "offline",
    updated: "updated",
    loading: "loading…",
    need_token: "This page shows protected data: enter a token above (the park operator makes one with `tanji token new`).",
    forbidden_park: "Your token shows one enterprise only; open its page.",
    error: "error",
    ledger: "Ledger",
    ledger_size: "Log entries",
    checkpoint: "Latest checkpoint",
    root: "root",
    witnesses: "Witness cosignatures",
    no_witnesses: "none yet",
    verifier_key: "Log key",
    factor_today: "Grid emission factor, today",
    factor_day: "Grid emission factor, {day}",
    factor_not_today: "(today is outside the publication; nearest day shown)",
    factor_hourly: "hourly factor",
    annual_mean: "annual mean",
    day_mean: "day mean",
    synthetic: "SYNTHETIC factor series — not a measurement",
    publication: "Publication",
    region: "Region",
    g_per_kwh: "g CO₂/kWh",
    emissions_by_enterprise: "Emissions by enterprise",
    scope1: "Scope 1 (fuels)",
    scope2_location: "Scope 2 (location-based)",
    scope2_market: "Scope 2 (market-based)",
    total_emissions: "Total emissions",
    t_co2: "t CO₂",
    green_share: "Green-power share",
    cfe_score: "Hourly clean-energy match (CFE)",
    period: "Period",
    enterprises: "Enterprises",
    enterprise: "Enterprise",
    consumption: "Electricity consumed",
    mwh: "MWh",
    kwh: "kWh",
    fixed_vs_dynamic: "Fixed vs hourly factor",
    fixed: "At the fixed annual factor",
    dynamic: "At hourly factors",
    difference: "Fixed − hourly",
    reason: "Why",
    season: "season",
    timing: "timing of use",
    alerts: "Alerts and data issues",
    anomalies: "Anomalies",
    anomaly_count: "meter anomalies",
    no_anomalies: "No anomaly in the last {days} days of data.",
    anomalies_note: "Found by anomaly detection on the logged meter data, {start} – {end}. An alert is a question for a person: the figures count the values as logged, not corrected.",
    kind_flat_line: "flat line",
    kind_spike: "spike",
    kind_level_shift: "level shift",
    kind_pv_at_night: "PV at night",
    kind_idle_consumption: "use in idle hours",
    kind_missing_data: "missing data",
    no_issues: "No data issues.",
    issues_log: "log",
    issues_accounting: "accounting",
    issues_ingest: "ingest",
    quarantined: "rejected records in quarantine",
    load_vs_factor: "Load against grid factor",
    load: "grid import",
    pv: "PV generation",
    by_hour: "Share of use and factor by local hour",
    share_of_use: "share of use",
    mean_factor: "mean factor",
    indicators: "Indicators",
    intensity: "Intensity",
    report: "Report",
    download: "Download",
    report_note: "Reports are tanji-report/v1 documents an auditor recomputes with `tanji audit` from the JSON; the Excel and PDF files carry the JSON's content hash (SHA-256).",
    format_xlsx: "Excel",
    format_pdf: "PDF",
    format_json: "JSON",
    format_csv: "CSV",
    format_html: "HTML",
    choose_enterprise: "Choose an enterprise",
    method: "method",
    nav_advice: "Advice",
    advice_curves: "Load before and after the advice, over the grid factor",
    advice_load_before: "load before (kW)",
    advice_load_after: "load after (kW)",
    advice_totals: "What the advice changes (modelled)",
    advice_emissions_before: "Emissions before",
    advice_emissions_after: "Emissions after",
    advice_cut: "Cut",
    advice_energy: "Energy (unchanged)",
    advice_cost_cut: "Cost saved",
    advice_energy_same: "Energy unchanged to the Wh: {before} kWh before, {after} kWh after",
    advice_energy_changed: "Energy CHANGED — the plan is not valid",
    advice_moved: "moved",
    advice_lines: "Advice",
    advice_none: "Nothing to move: the loads already sit in the cleanest hours allowed.",
    advice_objective: "objective",
    advice_link: "Load-shift advice for this enterprise",
    objective_emissions: "least emissions",
    objective_cost: "least cost",
    objective_blend: "cost + carbon at 150 CNY/t",
    fixed_factor: "fixed factor",
    none: "—",
    window_sentence: "Local time {from}–{to} carries {share} of the grid import at a factor {pct} against the period's mean.",
    optimizer: "Load shifting",
    token_help_title: "Access",
    token_help: "No token entered: only the public parts of the log show (its size and latest signed checkpoint). The figures need a token. The park operator makes one with `tanji token new --role operator|auditor|enterprise:<id>` and adds the hash it prints to the server's config; paste the token above. An enterprise token shows that enterprise only.",
    log_origin: "Log",
    public_note: "Public: anyone can fetch /checkpoint and verify it with the log key.",
    coverage_banner: "Factor series {series} covers {from} – {to} only: {missing} of {intervals} intervals in this period have no hourly factor and are counted at the fixed factor, so the hourly figures are incomplete. Publish a factor series that covers the period (`tanji factors compute` for the right year, then `tanji factors publish`).",
    coverage_ok: "Hourly factors cover every interval ({series}).",
    filled_share: "Filled values",
    filled_note: "{filled} of {values} values were filled (gaps estimated, not measured).",
    nothing_to_compare: "Nothing to compare: no hourly factor covers this period's grid import, so no reason is given.",
    basis_given: "given",
    basis_calibration_target: "the official annual factor the series is calibrated to",
    basis_weighted_mean: "the series' consumption-weighted mean",
    advice_error: "No plan for {id}",
    choose_other: "Choose another enterprise above.",
  },
  zh: {
    title: "碳计 — 园区碳排放看板",
    brand: "碳计 tanji",
    nav_park: "园区总览",
    nav_enterprise: "企业",
    token: "访问令牌",
    token_placeholder: "粘贴令牌（运营方、审计方或企业）",
    token_save: "使用",
    token_clear: "清除",
    token_saved: "令牌已保存在本浏览器",
    token_none: "未设令牌：仅可见公开数据",
    live: "实时",
    live_polling: "实时（轮询）",
    offline: "离线",
    updated: "更新于",
    loading: "加载中…",
    need_token: "此页面包含受保护数据：请在上方输入令牌（由园区运营方用 `tanji token new` 生成）。",
    forbidden_park: "您的令牌只能查看本企业数据，请打开企业页面。",
    error: "错误",
    ledger: "账本",
    ledger_size: "日志条目",
    checkpoint: "最新检查点",
    root: "根哈希",
    witnesses: "见证者联署",
    no_witnesses: "暂无",
    verifier_key: "日志公钥",
    factor_today: "今日电网排放因子",
    factor_day: "电网排放因子（{day}）",
    factor_not_today: "（今日不在发布期内，显示最近一天）",
    factor_hourly: "逐时因子",
    annual_mean: "年均值",
    day_mean: "日均值",
    synthetic: "合成因子序列 —— 非实测数据",
    publication: "因子发布",
    region: "区域",
    g_per_kwh: "克CO₂/千瓦时",
    emissions_by_enterprise: "各企业排放",
    scope1: "范围一（燃料）",
    scope2_location: "范围二（基于位置）",
    scope2_market: "范围二（基于市场）",
    total_emissions: "排放总量",
    t_co2: "吨CO₂",
    green_share: "绿电占比",
    cfe_score: "逐时清洁能源匹配率（CFE）",
    period: "统计期",
    enterprises: "企业",
    enterprise: "企业",
    consumption: "用电量",
    mwh: "兆瓦时",
    kwh: "千瓦时",
    fixed_vs_dynamic: "固定因子与逐时因子对比",
    fixed: "按固定年均因子",
    dynamic: "按逐时因子",
    difference: "固定 − 逐时",
    reason: "原因",
    season: "季节",
    timing: "用电时段",
    alerts: "告警与数据问题",
    anomalies: "异常",
    anomaly_count: "计量异常",
    no_anomalies: "最近 {days} 天的数据中无异常。",
    anomalies_note: "由异常检测在已记录的计量数据上发现，{start} – {end}。告警仅供人工核查：数值按记录计入，不作修正。",
    kind_flat_line: "数值恒定",
    kind_spike: "尖峰",
    kind_level_shift: "水平突变",
    kind_pv_at_night: "夜间光伏发电",
    kind_idle_consumption: "停机时段用能",
    kind_missing_data: "数据缺失",
    no_issues: "无数据问题。",
    issues_log: "日志",
    issues_accounting: "核算",
    issues_ingest: "接入",
    quarantined: "条被拒记录在隔离区",
    load_vs_factor: "负荷与电网因子",
    load: "电网购电",
    pv: "光伏发电",
    by_hour: "各时段（本地时间）用电占比与因子",
    share_of_use: "用电占比",
    mean_factor: "平均因子",
    indicators: "指标",
    intensity: "强度",
    report: "报告",
    download: "下载",
    report_note: "报告为 tanji-report/v1 文档，审计方可用 `tanji audit` 从 JSON 复算；Excel 和 PDF 文件附有该 JSON 的内容哈希（SHA-256）。",
    format_xlsx: "Excel",
    format_pdf: "PDF",
    format_json: "JSON",
    format_csv: "CSV",
    format_html: "HTML",
    choose_enterprise: "选择企业",
    method: "方法",
    nav_advice: "建议",
    advice_curves: "建议前后的负荷与电网排放因子",
    advice_load_before: "调整前负荷 (千瓦)",
    advice_load_after: "调整后负荷 (千瓦)",
    advice_totals: "建议带来的变化（模型估算）",
    advice_emissions_before: "调整前排放",
    advice_emissions_after: "调整后排放",
    advice_cut: "减排",
    advice_energy: "用电量（不变）",
    advice_cost_cut: "节省电费",
    advice_energy_same: "用电量精确到瓦时不变：调整前 {before} 千瓦时，调整后 {after} 千瓦时",
    advice_energy_changed: "用电量有变化——该计划无效",
    advice_moved: "转移",
    advice_lines: "建议",
    advice_none: "无需转移：负荷已处在允许的最清洁时段。",
    advice_objective: "目标",
    advice_link: "该企业的负荷转移建议",
    objective_emissions: "排放最少",
    objective_cost: "电费最低",
    objective_blend: "电费 + 碳价 150 元/吨",
    fixed_factor: "固定因子",
    none: "—",
    window_sentence: "本地时间 {from}–{to} 占电网购电的 {share}，该时段因子较本期均值 {pct}。",
    optimizer: "负荷转移",
    token_help_title: "访问",
    token_help: "未输入令牌：仅显示日志的公开部分（条目数与最新签名检查点）。查看数据需要令牌：由园区运营方用 `tanji token new --role operator|auditor|enterprise:<id>` 生成，并将其输出的哈希加入服务器配置；请将令牌粘贴到上方。企业令牌只能查看本企业。",
    log_origin: "日志",
    public_note: "公开数据：任何人都可获取 /checkpoint 并用日志公钥验证。",
    coverage_banner: "因子序列 {series} 仅覆盖 {from} – {to}：本期 {intervals} 个时段中有 {missing} 个没有逐时因子，按固定因子计入，逐时结果不完整。请发布覆盖该期间的因子序列（按正确年份运行 `tanji factors compute`，再 `tanji factors publish`）。",
    coverage_ok: "逐时因子覆盖全部时段（{series}）。",
    filled_share: "补齐数值占比",
    filled_note: "{values} 个数值中有 {filled} 个为补齐值（缺测估算，非实测）。",
    nothing_to_compare: "无可比较：本期电网购电没有逐时因子覆盖，因此不给出原因。",
    basis_given: "指定值",
    basis_calibration_target: "序列校准所依据的官方年均因子",
    basis_weighted_mean: "序列的用电量加权平均",
    advice_error: "无法为 {id} 生成计划",
    choose_other: "请在上方选择其他企业。",
  },
};

const KEY = "tanji.lang";

let lang = (() => {
  const saved = localStorage.getItem(KEY);
  if (saved === "en" || saved === "zh") return saved;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en";
})();

/** The current language, `en` or `zh`. */
export function getLang() {
  return lang;
}

/** Switches the language and remembers it. */
export function setLang(l) {
  lang = l === "zh" ? "zh" : "en";
  localStorage.setItem(KEY, lang);
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
}

/** The string `key` in the current language, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

function locale() {
  return lang === "zh" ? "zh-CN" : "en-US";
}

/** A number with `digits` decimals in the current locale; "—" for null. */
export function num(x, digits = 1) {
  if (x === null || x === undefined || Number.isNaN(x)) return t("none");
  return new Intl.NumberFormat(locale(), {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(x);
}

/** Grams as tonnes, 1 decimal. */
export function tonnes(g) {
  return g === null || g === undefined ? t("none") : num(g / 1e6, 1);
}

/** A fraction as a percentage, 1 decimal. */
export function pct(f) {
  return f === null || f === undefined ? t("none") : `${num(f * 100, 1)}%`;
}

/** Wh as MWh, 1 decimal. */
export function mwh(wh) {
  return wh === null || wh === undefined ? t("none") : num(wh / 1e6, 1);
}

/** Applies `data-i18n` (text) and `data-i18n-placeholder` attributes under `root`. */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  document.title = t("title");
}
