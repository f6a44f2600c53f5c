/* The tracking pages' service worker (scope /t/): shows the Web Push a followed matter sends
   and opens (reloads) its tracking page when the notification is tapped. */
"use strict";
importScripts("/static/public/sw-follow.js");

self.openTracking = self.followWorker({
  path: /^\/t\/[A-Za-z0-9]{1,16}$/,
  title: "回音壁",
  renotify: true, // each update of the matter is news to the resident
  reload: true,
});
