/* The news pages' service worker (scope /n/): shows the Web Push a followed community sends
   and opens the item's page when the notification is tapped. */
"use strict";
importScripts("/static/public/sw-follow.js");

self.openNews = self.followWorker({ path: /^\/n\/[\w-]{1,64}(\/\d{1,10})?$/, title: "信息速递" });
