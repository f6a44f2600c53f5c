/* The app's one time module: every screen parses and shows times through it.
   The server sends UTC with an offset ("…Z"); a datetime without one is taken as UTC too (an
   older server sent naive UTC, and the phone's own zone would shift it by 8 hours). Shown in
   Asia/Shanghai whatever zone the phone is set to. Date-only values ("2026-12-03") are days, not
   instants: shown as they are, never shifted through a zone. */
export const TZ = "Asia/Shanghai";
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const NAIVE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

const PARTS = new Intl.DateTimeFormat("en-CA", {
  timeZone: TZ,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

export const isDateOnly = (value) => typeof value === "string" && DATE_ONLY.test(value.trim());

/* An instant (Date) from a server value, or null. Date-only values give Shanghai midnight. */
export function parseTime(value) {
  if (value == null || value === "") return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value === "number") return new Date(value);
  let s = String(value).trim();
  if (DATE_ONLY.test(s)) s += "T00:00:00+08:00";
  else if (NAIVE.test(s)) s = s.replace(" ", "T") + "Z";
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

function parts(d) {
  return Object.fromEntries(PARTS.formatToParts(d).map((x) => [x.type, x.value]));
}

/* The Shanghai calendar day of a value ("2026-12-03"); date-only values are returned as they are. */
export function localDay(value = new Date()) {
  if (isDateOnly(value)) return value.trim();
  const d = parseTime(value);
  if (!d) return "";
  const p = parts(d);
  return `${p.year}-${p.month}-${p.day}`;
}

/* 2026-11-26, or 2026-11-26 08:57 with the time (the same in both languages). */
export function fmtDate(value, withTime = false) {
  if (isDateOnly(value)) return value.trim();
  const d = parseTime(value);
  if (!d) return "";
  const p = parts(d);
  const day = `${p.year}-${p.month}-${p.day}`;
  return withTime ? `${day} ${p.hour}:${p.minute}` : day;
}

/* 08:57 in Shanghai. */
export function fmtClock(value) {
  const d = parseTime(value);
  if (!d) return "";
  const p = parts(d);
  return `${p.hour}:${p.minute}`;
}

/* Today → "08:57", another day → "2026-11-26 08:57": a due time the eye can take in. */
export function fmtDue(value) {
  if (isDateOnly(value)) return value.trim();
  return localDay(value) === localDay() ? fmtClock(value) : fmtDate(value, true);
}

/* Milliseconds since the epoch, for sorting (missing values last). */
export function timeValue(value) {
  const d = parseTime(value);
  return d ? d.getTime() : Number.POSITIVE_INFINITY;
}

/* Past its instant; a date-only value is past once its Shanghai day has ended. */
export function isPast(value) {
  if (isDateOnly(value)) return localDay() > value.trim();
  const d = parseTime(value);
  return Boolean(d) && d.getTime() < Date.now();
}

export const isToday = (value) => Boolean(value) && localDay(value) === localDay();
