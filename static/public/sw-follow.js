/* What the public pages' service workers share (/t/sw.js for a followed matter, /n/sw.js for a
   followed community's news; each scoped to its own directory): show the Web Push that arrives
   and open the page it names when the notification is tapped. Nothing is cached. A classic
   script (importScripts), like the workers that load it. */
"use strict";

/* ``path``: the only pages a notification may open (whatever a payload says); ``title``: when
   the payload has none; ``renotify``: a newer push for the same page alerts again; ``reload``:
   a tap on a notification whose page is open reloads it (to show the change). Returns the
   function that opens a notification's page (tests call it: they cannot click OS ones). */
self.followWorker = function followWorker({ path, title, renotify = false, reload = false }) {
  self.addEventListener("install", () => self.skipWaiting());
  self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

  function ownUrl(link) {
    const url = new URL(typeof link === "string" ? link : "", self.location.origin);
    return url.origin === self.location.origin && path.test(url.pathname) ? url.href : null;
  }

  self.addEventListener("push", (event) => {
    let data = {};
    try {
      data = event.data ? event.data.json() : {};
    } catch {
      data = { body: event.data ? event.data.text() : "" };
    }
    const link = ownUrl(data.link);
    event.waitUntil(
      self.registration.showNotification(data.title || title, {
        body: data.body || "",
        tag: link || undefined, // a newer push for the same page replaces the older one
        renotify: renotify && Boolean(link),
        icon: "/static/icons/icon-192.png",
        badge: "/static/icons/maskable-192.png",
        data: { link },
      }),
    );
  });

  async function open(notification) {
    notification.close();
    const target = notification.data && notification.data.link;
    if (!target) return;
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const client of windows) {
      if (client.url === target) {
        await client.focus().catch(() => {});
        if (reload) await client.navigate(target).catch(() => {});
        return;
      }
    }
    await self.clients.openWindow(target);
  }

  self.addEventListener("notificationclick", (event) => event.waitUntil(open(event.notification)));
  return open;
};
