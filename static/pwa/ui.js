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

const TZ = "Asia/Shanghai";
const PARTS = new Intl.DateTimeFormat("en-CA", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});
/* Dates shown in Asia/Shanghai as 2026-11-26 08:57 (the same in both languages). */
export function fmtDate(iso, withTime = false) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const p = Object.fromEntries(PARTS.formatToParts(d).map((x) => [x.type, x.value]));
  const day = `${p.year}-${p.month}-${p.day}`;
  return withTime ? `${day} ${p.hour}:${p.minute}` : day;
}

export function isPast(iso) {
  return iso && new Date(iso).getTime() < Date.now();
}

export function qs(hash) {
  const i = hash.indexOf("?");
  return new URLSearchParams(i >= 0 ? hash.slice(i + 1) : "");
}

export function getCsrf() {
  return fetch("/api/v1/auth/csrf", { credentials: "same-origin", cache: "no-store" })
    .then((r) => r.json())
    .then((b) => b.csrf_token);
}
