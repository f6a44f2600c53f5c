/* Small helpers for the screens: translated strings, escaping, dates in Asia/Shanghai. */
const STRINGS = JSON.parse(document.getElementById("ui-strings").textContent);
export const LANG = document.documentElement.lang || "zh-CN";

export function t(key, vars = {}) {
  let s = STRINGS[key] ?? key;
  for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
  return s;
}

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESC[c]);
}

/* Tagged template that escapes every interpolation except html`` fragments (``raw``). */
export class Raw {
  constructor(s) {
    this.s = s;
  }
  toString() {
    return this.s;
  }
}
export const raw = (s) => new Raw(s);
export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => {
    const part = Array.isArray(v) ? v.map((x) => (x instanceof Raw ? x.s : esc(x))).join("") : v instanceof Raw ? v.s : esc(v);
    out += part + strings[i + 1];
  });
  return new Raw(out);
}

/* Every date on every screen goes through time.js (Asia/Shanghai, offsets honoured). */
export { fmtDate, fmtClock, fmtDue, isPast, isToday, localDay, parseTime, timeValue } from "./time.js";

export function qs(hash) {
  const i = hash.indexOf("?");
  return new URLSearchParams(i >= 0 ? hash.slice(i + 1) : "");
}

export function getCsrf() {
  return fetch("/api/v1/auth/csrf", { credentials: "same-origin", cache: "no-store" })
    .then((r) => r.json())
    .then((b) => b.csrf_token);
}
