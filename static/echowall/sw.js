/* The tracking pages' service worker (scope /t/): shows the Web Push a followed matter sends
   and opens its tracking page when the notification is tapped. Nothing is cached. */
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

/* Only our own tracking pages are opened, whatever a payload says. */
function trackingUrl(link) {
  const url = new URL(typeof link === "string" ? link : "", self.location.origin);
  const ok = url.origin === self.location.origin && /^\/t\/[A-Za-z0-9]{1,16}$/.test(url.pathname);
  return ok ? url.href : null;
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  const link = trackingUrl(data.link);
  event.waitUntil(
    self.registration.showNotification(data.title || "回音壁", {
      body: data.body || "",
      tag: link || undefined, // a newer update of the same matter replaces the older one
      renotify: Boolean(link),
      icon: "/static/icons/icon-192.png",
      badge: "/static/icons/maskable-192.png",
      data: { link },
    }),
  );
});

async function openTracking(notification) {
  notification.close();
  const target = notification.data && notification.data.link;
  if (!target) return;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (client.url === target) {
      await client.focus().catch(() => {});
      await client.navigate(target).catch(() => {}); // reload: show the change
      return;
    }
  }
  await self.clients.openWindow(target);
}

self.openTracking = openTracking; // for tests, which cannot click OS notifications

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(openTracking(event.notification));
});
