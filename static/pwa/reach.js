/* Does push reach this phone, and what reaches the worker instead? Push is judged here (no
   PushManager or Notification, permission denied, a subscription that failed) and by the server
   (GET /api/v1/notifications/reach: pushes sent for days that this phone never acknowledged).
   The server's answer is kept in IndexedDB so the notice on Today and the card in Settings also
   show offline; nothing here may throw when the network is gone. */
import * as idb from "./idb.js";
import * as push from "./push.js";
import { t, html, raw, fmtDate } from "./ui.js";
import { drain } from "./http.js";

export const REACH_URL = "/api/v1/notifications/reach";
const REFETCH_MS = 10 * 60 * 1000; // the server's view changes slowly: at most every 10 minutes
// The states on this phone that mean "push does not reach you here" (the Today notice).
const NOT_REACHED = new Set(["unsupported", "denied", "error", "failing"]);
let lastFetch = 0;

function within(promise, ms) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(undefined), ms))]);
}

/* This phone's own view: unsupported | denied | error | off | on (+ its endpoint). Never waits
   for a service worker that is not there (getRegistration, not ready). */
export async function localPush() {
  if (!push.supported()) return { state: "unsupported" };
  if (Notification.permission === "denied") return { state: "denied" };
  const failed = await idb.meta("pushError");
  try {
    const reg = await within(navigator.serviceWorker.getRegistration(), 2000);
    const sub = reg?.pushManager ? await within(reg.pushManager.getSubscription(), 2000) : null;
    if (sub) return { state: "on", endpoint: sub.endpoint };
  } catch {
    return { state: "error" };
  }
  return { state: failed ? "error" : "off" };
}

/* Remember a failed PushManager.subscribe() (FCM unreachable, an error from the browser) so the
   notice can say so after a reload; a later success clears it. */
export async function noteSubscribe(error) {
  await idb.setMeta("pushError", error ? { message: String(error.message || error), at: new Date().toISOString() } : null).catch(() => {});
}

/* Ask the server (throttled unless forced); the answer is kept. Returns it, or the kept one
   when offline or refused. */
export async function refresh({ force = false } = {}) {
  const kept = await idb.meta("reach").catch(() => null);
  if (!navigator.onLine || (!force && kept && Date.now() - lastFetch < REFETCH_MS)) return kept;
  lastFetch = Date.now();
  try {
    const resp = await fetch(REACH_URL, { credentials: "same-origin", cache: "no-store", signal: AbortSignal.timeout(10000) });
    if (!resp.ok) {
      drain(resp);
      return kept;
    }
    const body = { ...(await resp.json()), fetched_at: new Date().toISOString() };
    await idb.setMeta("reach", body);
    return body;
  } catch {
    return kept;
  }
}

/* Both views together: ``here`` is this phone's push state, "failing" when the server says the
   pushes it sent to this very subscription were never acknowledged (or failed). */
export async function status() {
  const local = await localPush();
  const server = await idb.meta("reach").catch(() => null);
  let here = local.state;
  if (here === "on" && server) {
    const device = (server.devices || []).find((d) => d.endpoint === local.endpoint);
    if (device?.state === "failing") here = "failing";
  }
  return { here, server };
}

function insteadLine(server) {
  if (!server) return t("reach_unknown");
  return server.instead ? t("reach_instead", { channel: server.instead.label }) : t("reach_none");
}

const keyOf = (s) => `${s.here}|${s.server?.instead?.name || "none"}`;

/* The dismissible notice on Today: only when push does not reach this phone. */
export async function notice() {
  const s = await status().catch(() => null);
  if (!s || !NOT_REACHED.has(s.here)) return "";
  if ((await idb.meta("reachDismissed").catch(() => null)) === keyOf(s)) return "";
  const fix = s.here === "denied" || s.here === "error";
  return html`<aside class="card notice" id="reach-notice" role="status" data-key="${keyOf(s)}" data-here="${s.here}" data-instead="${s.server?.instead?.name || ""}">
    <p><strong>${t(`push_here_${s.here}`)}</strong></p>
    <p id="reach-instead">${insteadLine(s.server)}</p>
    <p class="muted">${t("reach_refreshes")}</p>
    <div class="actions">${fix ? html`<a class="button" href="#/settings">${t("settings")}</a>` : ""}
      <button type="button" id="reach-dismiss">${t("reach_dismiss")}</button></div></aside>`;
}

export function bindNotice(root) {
  const box = root.querySelector("#reach-notice");
  // Remembered before the notice goes: a reload or a sync's redraw right after the tap must not
  // bring back what was dismissed (the key is the one the notice was drawn for).
  box?.querySelector("#reach-dismiss").addEventListener("click", async () => {
    box.hidden = true;
    await idb.setMeta("reachDismissed", box.dataset.key).catch(() => {});
    box.remove();
  });
}

/* The card in Settings: this phone's push, every channel that reaches the worker, advice. */
export function card() {
  return html`<section class="card" id="reach-card"><h2>${t("reach_title")}</h2>
    <p class="muted" id="reach-status" role="status">${t("loading")}</p><div id="reach-body"></div></section>`;
}

export async function bindCard(root) {
  const box = root.querySelector("#reach-card");
  if (!box) return;
  const show = (s) => {
    const server = s.server;
    const chans = server?.channels || [];
    box.dataset.here = s.here;
    box.dataset.instead = server?.instead?.name || "";
    // The push card above already says unsupported / on / off; this one adds what it cannot.
    const status = box.querySelector("#reach-status");
    status.textContent = NOT_REACHED.has(s.here) && s.here !== "unsupported" ? t(`push_here_${s.here}`) : "";
    status.hidden = !status.textContent;
    const advice = (server?.advice || []).filter((a) => !(a.code === "push_off" && (s.here === "unsupported" || s.here === "denied")));
    box.querySelector("#reach-body").innerHTML = html`
      <p id="reach-instead">${insteadLine(server)}</p>
      ${chans.length ? html`<p>${t("reach_now")}</p><ul class="reach-channels">${chans.map((c) => html`<li data-channel="${c.name}">${c.label}</li>`)}</ul>` : ""}
      ${advice.length ? html`<ul class="advice">${advice.map((a) => html`<li data-code="${a.code}">${a.text}</li>`)}</ul>` : ""}
      <p class="muted">${t("reach_refreshes")}${server ? raw(" ") : ""}${server ? t("reach_as_of", { t: fmtDate(server.fetched_at, true) }) : ""}</p>`;
  };
  show(await status().catch(() => ({ here: "off", server: null })));
  await refresh({ force: true });
  if (box.isConnected) show(await status().catch(() => ({ here: "off", server: null })));
}
