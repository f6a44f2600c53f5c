/* The news page's "notify me" button: this browser follows one community's news by Web Push
   through the news pages' own service worker (scope /n/); see /static/public/follow.js. */
import { followButton } from "/static/public/follow.js";

const box = document.getElementById("news-push");
followButton(box, {
  ids: { on: "news-push-on", off: "news-push-off", status: "news-push-status" },
  storageKey: box && `news-push:${box.dataset.token}`,
  label: "news",
});
