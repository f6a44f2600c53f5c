/* The tracking page's "notify me" button: this browser follows one matter by Web Push through
   the tracking pages' own service worker (scope /t/); see /static/public/follow.js. */
import { followButton } from "/static/public/follow.js";

const box = document.getElementById("push");
followButton(box, {
  ids: { on: "push-on", off: "push-off", status: "push-status" },
  storageKey: box && `echowall-push:${box.dataset.code}`,
  label: "echo wall",
});
