/* Community news (信息速递) in the worker's app: the list and one item, from the synced
   "news" rows (IndexedDB), so both work offline; a share action forwards the public link
   (Web Share where the phone offers it, else the clipboard, else the link to copy by hand). */
import * as idb from "./idb.js";
import { t, html, raw, fmtDate, isPast, timeValue, getCsrf } from "./ui.js";
import { drain } from "./http.js";

const current = (n) => !(n.expires_at && isPast(n.expires_at));

export async function newsList() {
  const rows = (await idb.rows("news"))
    .filter(current)
    .sort((a, b) => Number(b.pinned) - Number(a.pinned) || timeValue(b.publish_at) - timeValue(a.publish_at));
  return html`
    <h1>${t("news")}</h1>
    <section class="card">${rows.length
      ? raw(`<ul class="list" id="news-list">${rows.map((n) => html`
        <li><a class="row" href="#/news/${n.id}" data-news="${n.id}">
          <span>${n.pinned ? html`<span class="badge">${t("news_pinned")}</span> ` : ""}${n.kind === "policy" ? html`<span class="badge">${t("news_policy")}</span> ` : ""}<strong>${n.title}</strong>
          <br><span class="muted">${n.excerpt}</span></span>
          <span class="muted">${fmtDate(n.publish_at)}</span></a></li>`).join("")}</ul>`)
      : html`<p class="muted" id="news-empty">${t("news_none")}</p>`}
    </section>`;
}

export async function newsItem(id) {
  const n = await idb.row("news", id);
  if (!n || !current(n)) return html`<p class="muted">${t("news_none")}</p><p><a href="#/news">${t("news_back")}</a></p>`;
  return html`
    <p><a href="#/news" id="news-back">‹ ${t("news_back")}</a></p>
    <article class="card" id="news-item" data-news="${n.id}">
      <h1>${n.kind === "policy" ? html`<span class="badge">${t("news_policy")}</span> ` : ""}${n.title}</h1>
      <p class="muted">${fmtDate(n.publish_at, true)}${n.expires_at ? " · " + t("news_expires", { d: fmtDate(n.expires_at) }) : ""}</p>
      <div class="news-body">${raw(n.body_html)}</div>
      ${n.images.length ? html`<div class="thumbs">${n.images.map((src) => html`<img src="${src}" alt="" loading="lazy" width="96" height="96">`)}</div>` : ""}
      ${n.attachments.length ? html`<h2>${t("news_attachments")}</h2><ul>${n.attachments.map((a) => html`<li><a href="${a.url}" download>${a.filename}</a></li>`)}</ul>` : ""}
      <p><button type="button" class="primary" id="news-share" data-url="${n.url}">${t("news_share")}</button></p>
      <p class="muted" id="news-share-status" role="status"></p>
      <input type="url" id="news-link" value="${n.url}" readonly hidden>
    </article>`;
  /* body_html is the server's safe markup (gridapp/news/markup.py): text escaped, then only
     paragraphs, lists, bold and http(s) links added. */
}

export function bindNewsItem(root, id) {
  const button = root.querySelector("#news-share");
  if (!button) return;
  const status = root.querySelector("#news-share-status");
  const link = root.querySelector("#news-link");
  button.addEventListener("click", async () => {
    const n = await idb.row("news", id);
    const data = { title: n.title, text: n.excerpt, url: n.url };
    if (navigator.share && (!navigator.canShare || navigator.canShare(data))) {
      try {
        await navigator.share(data);
        return;
      } catch (err) {
        if (err && err.name === "AbortError") return; // the worker closed the share sheet
      }
    }
    try {
      await navigator.clipboard.writeText(n.url);
      status.textContent = t("news_copied");
    } catch {
      status.textContent = t("news_copy_failed");
      link.hidden = false;
      link.select();
    }
  });
  // One read a day per worker (the server stores a salted hash); offline opens are not counted.
  if (navigator.onLine) {
    getCsrf()
      .then((csrf) => fetch(`/api/v1/news/${encodeURIComponent(id)}/opened`, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf } }))
      .then(drain)
      .catch(() => {});
  }
}
