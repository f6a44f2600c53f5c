/* gridapp service worker (a module worker, served from /sw.js so its scope is the whole app).
   Precaches the versioned app shell, answers navigations to the shell from the cache, runs the
   outbox on Background Sync, and shows Web Push notifications (acknowledging each to the server),
   refreshes on Periodic Background Sync and keeps the unread count on the app icon. */
import { syncNow } from "/static/pwa/sync.js";
import { appUrl } from "/static/pwa/links.js";
import { drain } from "/static/pwa/http.js";

const VERSION = {{ version|tojson }};
const CACHE = "gridapp-shell-" + VERSION;
const PRECACHE = {{ precache|tojson }};
const SHELL = {{ shell|tojson }};
const OFFLINE = {{ offline|tojson }};
// Photos of the worker's records, kept across app versions for offline viewing (gallery.js fills
// it after each sync; sync.js empties it when another user logs in on this phone).
const PHOTOS = "gridapp-photos";
const PHOTO_PATH = /^\/api\/v1\/photos\/[^/]+\/(thumb|image)$/;

async function photoResponse(request) {
  const cache = await caches.open(PHOTOS);
  const cached = await cache.match(request.url);
  if (cached) return cached;
  const resp = await fetch(request);
  if (resp.ok) await cache.put(request.url, resp.clone());
  return resp;
}

self.addEventListener("install", (event) => {
  // No skipWaiting here: a new version waits until the worker taps "update" (the page posts
  // SKIP_WAITING), so a form being filled in is never swapped out from under them.
  event.waitUntil(
    caches.open(CACHE).then((cache) =>
      cache.addAll(PRECACHE.map((url) => new Request(url, { cache: "reload" }))),
    ),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith("gridapp-shell-") && key !== CACHE) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  const msg = event.data || {};
  if (msg.type === "SKIP_WAITING") self.skipWaiting();
  if (msg.type === "VERSION") event.source?.postMessage({ type: "VERSION", version: VERSION });
  if (msg.type === "REFRESH_SHELL") {
    // The shell carries the UI language: fetch it again after the worker switches language.
    event.waitUntil(
      caches
        .open(CACHE)
        .then((cache) => cache.add(new Request(SHELL, { cache: "reload" })))
        .then(() => event.source?.postMessage({ type: "SHELL_REFRESHED" })),
    );
  }
});

async function shellResponse(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(SHELL);
  if (cached) return cached;
  try {
    return await fetch(request);
  } catch {
    return (await cache.match(OFFLINE)) || Response.error();
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin === self.location.origin && PHOTO_PATH.test(url.pathname)) {
    event.respondWith(photoResponse(request));
    return;
  }
  if (url.origin !== self.location.origin || url.pathname.startsWith("/api/")) return;
  if (request.mode === "navigate") {
    if (url.pathname === SHELL) {
      event.respondWith(shellResponse(request));
    } else {
      event.respondWith(
        fetch(request).catch(async () => (await caches.match(OFFLINE)) || Response.error()),
      );
    }
    return;
  }
  event.respondWith(
    caches.open(CACHE).then(async (cache) => (await cache.match(request)) || fetch(request)),
  );
});

self.addEventListener("sync", (event) => {
  if (event.tag === "outbox") event.waitUntil(syncNow({ reason: "background-sync" }));
});

/* The unread count on the app icon (Badging API, where the platform has one). */
async function updateBadge() {
  try {
    const resp = await fetch("/api/v1/notifications/unread-count", { credentials: "same-origin", cache: "no-store" });
    if (!resp.ok) return void drain(resp);
    const { unread } = await resp.json();
    if (!self.navigator.setAppBadge) return;
    await (unread ? self.navigator.setAppBadge(unread) : self.navigator.clearAppBadge());
  } catch {
    // offline or no badge on this platform: the page sets it again when opened
  }
}

/* Periodic Background Sync (refresh.js registers it where offered): pull the inbox and the
   tasks, and show the unread count on the icon, without a push service. */
self.addEventListener("periodicsync", (event) => {
  if (event.tag === "refresh") {
    event.waitUntil(syncNow({ reason: "periodic-sync" }).catch(() => {}).then(updateBadge));
  }
});

/* Tell the server this push arrived (the payload's "d" is its delivery): a phone whose pushes
   are never acknowledged is one push does not reach, and the server says so (reach.py).
   Authenticated by this phone's session cookie; lost quietly when the network is gone. */
async function acknowledge(data) {
  const id = Number(data.id);
  if (!Number.isInteger(id) || id < 1) return;
  try {
    const { csrf_token: csrf } = await (await fetch("/api/v1/auth/csrf", { credentials: "same-origin", cache: "no-store" })).json();
    const d = Number(data.d);
    drain(
      await fetch(`/api/v1/notifications/${id}/received`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(Number.isInteger(d) && d > 0 ? { delivery_id: d } : {}),
      }),
    );
  } catch {
    // offline: the notification is shown all the same
  }
}

async function tellClients(message) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) client.postMessage(message);
  return windows.length;
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: event.data ? event.data.text() : "" };
  }
  // tag = the message's topic (the server's Topic header is "type about this link"), so a newer
  // message about the same thing replaces the older one on the screen too. Announcements and
  // messages without a link never merge (the server sends them without a Topic): their own id.
  const merges = data.type && data.type !== "announcement" && data.link;
  const tag = data.topic || data.tag || (merges ? `${data.type}|${data.link}` : data.id ? `n${data.id}` : "");
  event.waitUntil(
    (async () => {
      await self.registration.showNotification(data.title || "网格便民服务包", {
        body: data.body || "",
        tag: tag || undefined,
        renotify: Boolean(tag),
        icon: "/static/icons/icon-192.png",
        badge: "/static/icons/maskable-192.png",
        data: { link: data.link || data.url || "" },
      });
      await acknowledge(data);
      // Refresh data: an open app syncs itself; otherwise pull here so it opens up to date.
      const open = await tellClients({ type: "PUSH", data });
      if (!open) await syncNow({ reason: "push" }).catch(() => {});
      await updateBadge();
    })(),
  );
});

/* Open the screen a notification links to: reuse an open app window, or open one. */
async function openFromNotification(notification) {
  notification.close();
  const target = new URL(appUrl(notification.data?.link || ""), self.location.origin).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (new URL(client.url).pathname === SHELL) {
      await client.focus().catch(() => {});
      client.postMessage({ type: "NAVIGATE", url: target });
      return;
    }
  }
  await self.clients.openWindow(target);
}
self.openFromNotification = openFromNotification; // for tests, which cannot click OS notifications
self.syncNow = syncNow; // for tests and debugging from DevTools

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(openFromNotification(event.notification));
});
