/* The news pages' service worker (scope /n/): shows the Web Push a followed community sends
   and opens the item's page when the notification is tapped. Nothing is cached. */
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

/* Only our own news pages are opened, whatever a payload says. */
function newsUrl(link) {
  const url = new URL(typeof link === "string" ? link : "", self.location.origin);
  const ok = url.origin === self.location.origin && /^\/n\/[\w-]{1,64}(\/\d{1,10})?$/.test(url.pathname);
  return ok ? url.href : null;
}

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  const link = newsUrl(data.link);
  event.waitUntil(
    self.registration.showNotification(data.title || "信息速递", {
      body: data.body || "",
      tag: link || undefined,
      icon: "/static/icons/icon-192.png",
      badge: "/static/icons/maskable-192.png",
      data: { link },
    }),
  );
});

async function openNews(notification) {
  notification.close();
  const target = notification.data && notification.data.link;
  if (!target) return;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (client.url === target) {
      await client.focus().catch(() => {});
      return;
    }
  }
  await self.clients.openWindow(target);
}

self.openNews = openNews; // for tests, which cannot click OS notifications

self.addEventListener("notificationclick", (event) => {
  event.waitUntil(openNews(event.notification));
});
