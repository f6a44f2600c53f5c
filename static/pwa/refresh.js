/* Keeping the inbox and the task list fresh without a push service (DEPENDENCIES.md pitfall 10):
   sync when the app comes back to the screen (focus, visibilitychange: throttled, since both fire
   together and a phone flips between apps often), and let the browser wake the service worker
   now and then with Periodic Background Sync where it offers it (an installed app, with the
   permission). Offline, nothing is tried. */
import { syncNow } from "./sync.js";

// Not more than one refresh this close together (an init script may set it lower in tests).
const minGap = () => globalThis.GRIDAPP_REFRESH_MIN_MS ?? 30 * 1000;
export const PERIODIC_TAG = "refresh";
export const PERIODIC_MIN_INTERVAL = 60 * 60 * 1000; // the browser decides; it asks for at least this

let lastStart = 0;

/* Any sync that starts (the first one, an outbox retry, a push) counts for the throttle. */
export function noteSync() {
  lastStart = Date.now();
}

export function refreshSoon(reason, after = () => {}) {
  if (!navigator.onLine || Date.now() - lastStart < minGap()) return false;
  noteSync();
  syncNow({ reason }).then(after, () => {});
  return true;
}

export function watch(after) {
  window.addEventListener("focus", () => refreshSoon("focus", after));
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && refreshSoon("visible", after));
}

/* Ask for Periodic Background Sync; quietly nothing where there is none or it is not granted. */
export async function registerPeriodic(reg) {
  try {
    if (!reg || !("periodicSync" in reg)) return "unsupported";
    const permission = await navigator.permissions?.query({ name: "periodic-background-sync" }).catch(() => null);
    if (permission && permission.state !== "granted") return permission.state;
    await reg.periodicSync.register(PERIODIC_TAG, { minInterval: PERIODIC_MIN_INTERVAL });
    return "registered";
  } catch {
    return "failed";
  }
}
