/* gridapp service worker (a module worker, served from /sw.js so its scope is the whole app).
   Precaches the versioned app shell, answers navigations to the shell from the cache, runs the
   outbox on Background Sync, and shows Web Push notifications. */
import { syncNow } from "/static/pwa/sync.js";
import { appUrl } from "/static/pwa/links.js";

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
      // Refresh data: an open app syncs itself; otherwise pull here so it opens up to date.
      const open = await tellClients({ type: "PUSH", data });
      if (!open) await syncNow({ reason: "push" }).catch(() => {});
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
