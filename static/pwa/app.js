/* The grid worker's app: router, status bar (what waits to upload), sync triggers, service
   worker registration and its update flow. */
import * as idb from "./idb.js";
import { counts, syncNow } from "./sync.js";
import * as S from "./screens.js";
import * as F from "./forms.js";
import * as A from "./actions.js";
import * as N from "./news.js";
import { bindGallery, prefetchThumbs } from "./gallery.js";
import { bindResidentLink } from "./residentlink.js";
import { bindContact } from "./contact.js";
import * as Set_ from "./settings.js";
import * as push from "./push.js";
import * as R from "./reach.js";
import * as Refresh from "./refresh.js";
import { t, html, qs, fmtDate, getCsrf } from "./ui.js";

const main = document.getElementById("screen");
const statusBar = document.getElementById("sync-status");
// The message after a write, kept on its screen across re-renders (a sync redraws the screen)
// until the worker goes elsewhere: {path, text, state: "queued" | "sending" | "sent"}.
let flash = null;

/* route → [render(params), bind(root, params)] */
const ROUTES = [
  [/^#\/today$/, async () => html`${await R.notice()}${await S.today()}`, (root) => { S.bindToday(root); R.bindNotice(root); }],
  [/^#\/grid$/, (m, p) => S.grid(p), (root) => S.bindGrid(root)],
  [/^#\/building\/(\w+)$/, (m) => S.building(m[1])],
  [/^#\/household\/(\w+)$/, (m) => S.household(m[1]), (root, m) => S.bindHousehold(root, m[1], render)],
  [/^#\/visit\/new$/, (m, p) => F.visitNew(p), (root, m, p) => F.bindVisit(root, p, done)],
  [/^#\/report$/, (m, p) => F.report(p), (root, m, p) => F.bindReport(root, p, done)],
  [/^#\/task\/([\w:-]+)$/, (m) => A.task(m[1]), (root, m) => { A.bindTask(root, m[1], done); bindContact(root, m[1], render, "task"); }],
  [/^#\/matters$/, () => S.matters()],
  [/^#\/matter\/([\w:-]+)$/, (m) => S.matter(m[1]), (root, m) => { A.bindMatter(root, m[1], done); bindResidentLink(root, m[1]); bindContact(root, m[1], render); }],
  [/^#\/inbox$/, () => S.inbox(), (root) => S.bindInbox(root)],
  [/^#\/news$/, () => N.newsList()],
  [/^#\/news\/(\d+)$/, (m) => N.newsItem(m[1]), (root, m) => N.bindNewsItem(root, m[1])],
  [/^#\/settings$/, () => Set_.settings(), (root) => Set_.bindSettings(root, render)],
  [/^#\/outbox$/, () => Set_.outbox(), (root) => Set_.bindOutbox(root, render)],
  [/^#\/login$/, () => Set_.login(), (root) => Set_.bindLogin(root)],
];

/* After a write: say what happens to it. Offline it waits in the outbox ("saved, uploaded when
   the network is back"); online it is being sent now, and the message says so once it is. */
function done(hash) {
  const online = navigator.onLine;
  const note = { path: hash.split("?")[0], text: t(online ? "sending" : "saved_offline"), state: online ? "sending" : "queued" };
  flash = note;
  if (location.hash === hash) render();
  else location.hash = hash;
  if (!online) return;
  syncNow().then(async (result) => {
    const sent = result.ok && !(await counts()).pending;
    Object.assign(note, { text: t(sent ? "sent" : "saved_offline"), state: sent ? "sent" : "queued" });
    const el = flash === note && document.getElementById("flash");
    if (el) Object.assign(el, { textContent: note.text }).dataset.state = note.state;
  });
}

let rendering = Promise.resolve();
export function render() {
  rendering = rendering.then(() => renderNow(false), () => renderNow(false));
  return rendering;
}

/* A redraw because a sync ended: skipped if the worker started typing or picking a photo while
   the screen's data was being read (the redraw would wipe what they just entered). */
function renderInBackground() {
  rendering = rendering.then(() => renderNow(true), () => renderNow(true));
  return rendering;
}

async function renderNow(background = false) {
  const hash = location.hash || "#/today";
  const path = hash.split("?")[0];
  const params = qs(hash);
  for (const [re, view, bind] of ROUTES) {
    const m = path.match(re);
    if (!m) continue;
    // Don't redraw a form the worker is filling in because a sync finished in the background.
    if (background && isEditing()) return;
    const out = await view(m, params);
    if (background && isEditing()) return; // the worker began editing while we read
    if (flash && flash.path !== path) flash = null;
    main.innerHTML = (flash ? html`<p class="flash" role="status" id="flash" data-state="${flash.state}">${flash.text}</p>` : "") + out;
    bind?.(main, m, params);
    bindGallery(main);
    document.querySelectorAll(".tabbar a").forEach((a) => a.classList.toggle("on", path.startsWith(a.getAttribute("href"))));
    main.dataset.route = path;
    main.dataset.dirty = "";
    return;
  }
  location.replace("#/today");
}

function isEditing() {
  // Settings and login show no synced data, and a re-render would reset their forms under the
  // user's thumb (a sync ending while someone types their password wiped it). Elsewhere a form
  // is kept once the worker has typed or picked something in it; an untouched one is redrawn,
  // so a task or matter shows the server's answer (and what it now allows) after a sync.
  // A field with the focus counts as editing before anything is typed: the worker tapped into
  // it, and a redraw would drop the keyboard and send the first keystrokes nowhere.
  if (/settings|login/.test(main.dataset.route || "")) return Boolean(main.querySelector("form"));
  const field = document.activeElement;
  if (field && main.contains(field) && field.matches("form:not(#search-form) :is(input, textarea, select)")) return true;
  return main.dataset.dirty === "1" && Boolean(main.querySelector("form:not(#search-form)"));
}

async function renderStatus(syncing = false) {
  const c = await counts();
  const needLogin = await idb.meta("needLogin", false);
  const last = await idb.meta("lastSync");
  const parts = [];
  if (!navigator.onLine) parts.push(html`<span class="offline">${t("offline")}</span>`);
  if (syncing) parts.push(html`<span>${t("syncing")}</span>`);
  parts.push(
    c.pending
      ? html`<a href="#/outbox" class="wait" id="pending-count" data-count="${c.pending}">${t("pending_n", { n: c.pending })}</a>`
      : html`<span id="pending-count" data-count="0">${t("all_synced")}</span>`,
  );
  if (c.conflicts) parts.push(html`<a href="#/outbox" class="bad" id="conflict-count">${t("conflicts_n", { n: c.conflicts })}</a>`);
  if (c.rejected) parts.push(html`<a href="#/outbox" class="bad">${t("rejected_n", { n: c.rejected })}</a>`);
  if (needLogin) parts.push(html`<a href="#/login" class="bad" id="login-needed">${t("login_needed")}</a>`);
  else parts.push(html`<span class="muted">${last ? t("last_sync", { t: fmtDate(last, true) }) : t("never_synced")}</span>`);
  statusBar.innerHTML = parts.join(" · ");
  const unread = (await idb.rows("notification")).filter((n) => !n.read_at).length;
  const tab = document.querySelector('.tabbar a[href="#/inbox"]');
  tab.dataset.unread = unread ? String(unread) : "";
  if (navigator.setAppBadge) (unread ? navigator.setAppBadge(unread) : navigator.clearAppBadge()).catch(() => {});
}

/* Retry when the earliest backed-off operation is due (the outbox keeps next_try per op). */
let retryTimer = null;
async function scheduleRetry() {
  clearTimeout(retryTimer);
  const me = await idb.meta("user");
  const due = (await idb.outbox())
    .filter((o) => me && o.user_id === me.id && o.status === "pending")
    .map((o) => o.next_try || 0);
  if (!due.length) return;
  const wait = Math.max(1000, Math.min(...due) - Date.now());
  retryTimer = setTimeout(() => navigator.onLine && syncNow(), wait);
}

function onEvent(msg) {
  if (msg.type === "sync-start") {
    Refresh.noteSync();
    return renderStatus(true);
  }
  if (msg.type === "sync-end") {
    scheduleRetry();
    if (msg.result?.ok) prefetchThumbs().catch(() => {});
  }
  renderStatus(false);
  if ((msg.type === "pulled" || msg.type === "sync-end" || msg.type === "outbox") && !isEditing()) renderInBackground();
}

/* The reach notice (Today) and card (Settings) follow the server's latest answer. */
function redrawReach() {
  if (/^#\/(today|settings)?$/.test((location.hash || "#/today").split("?")[0]) && !isEditing()) renderInBackground();
}

let updateRequested = false;

function registerWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/", type: "module" }).then((reg) => {
    const offer = (worker) => {
      const bar = document.getElementById("update-bar");
      bar.hidden = false;
      bar.querySelector("button").onclick = () => {
        updateRequested = true;
        worker.postMessage({ type: "SKIP_WAITING" });
      };
    };
    if (reg.waiting && navigator.serviceWorker.controller) offer(reg.waiting);
    reg.addEventListener("updatefound", () => {
      const incoming = reg.installing;
      incoming?.addEventListener("statechange", () => {
        if (incoming.state === "installed" && navigator.serviceWorker.controller) offer(incoming);
      });
    });
    setInterval(() => reg.update().catch(() => {}), 60 * 60 * 1000);
    Refresh.registerPeriodic(reg);
  }).catch(() => {});
  let reloading = false;
  const hadController = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // Not on the very first install (nothing to swap); yes when the worker asked for the update.
    if ((hadController || updateRequested) && !reloading) {
      reloading = true;
      location.reload();
    }
  });
  navigator.serviceWorker.addEventListener("message", (e) => {
    const msg = e.data || {};
    if (msg.type === "PUSH") syncNow();
    if (msg.type === "NAVIGATE") location.href = msg.url;
  });
}

async function boot() {
  registerWorker();
  main.addEventListener("input", (e) => e.target.id !== "search" && (main.dataset.dirty = "1"));
  main.addEventListener("change", (e) => e.target.type === "file" && (main.dataset.dirty = "1"));
  window.addEventListener("hashchange", render);
  window.addEventListener("gridapp", (e) => onEvent(e.detail));
  if (typeof BroadcastChannel !== "undefined") new BroadcastChannel("gridapp").onmessage = (e) => onEvent(e.data);
  window.addEventListener("online", () => {
    renderStatus();
    syncNow();
  });
  window.addEventListener("offline", () => renderStatus());
  // Back on screen (focus, visibilitychange): pull the inbox and tasks, then ask again how
  // messages reach this worker (throttled in refresh.js and reach.js).
  Refresh.watch(() => R.refresh().then(redrawReach));
  const user = await idb.meta("user");
  if (!user && !location.hash.startsWith("#/login")) main.innerHTML = `<p class="muted">${t("first_sync")}</p>`;
  await renderStatus();
  if (user || location.hash.startsWith("#/login")) await render();
  const first = syncNow().then(async (result) => {
    if (result.login && !(await idb.meta("user"))) location.hash = "#/login";
    else if (!user) render();
    if (result.ok && push.supported()) getCsrf().then((csrf) => push.ensure(csrf)).catch((err) => err instanceof TypeError || R.noteSubscribe(err)); // TypeError: offline, not push
    if (result.ok) R.refresh({ force: true }).then(redrawReach);
  });
  setInterval(() => navigator.onLine && document.visibilityState === "visible" && syncNow(), 5 * 60 * 1000);
  window.gridapp = { syncNow, idb, ready: first };
}

boot();
