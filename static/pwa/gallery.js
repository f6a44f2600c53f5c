/* Photos of matters, tasks and visits: thumbnails that open full size in the app. Uploaded photos
   come from the server (the service worker keeps them for offline use, see sw.js); ones still in
   the outbox are shown from IndexedDB. */
import * as idb from "./idb.js";
import { PHOTO_URL } from "./sync.js";
import { html, t } from "./ui.js";
import { drain } from "./http.js";

export const PHOTO_CACHE = "gridapp-photos"; // also in sw.js; emptied when another user logs in
export const thumbUrl = (id) => `${PHOTO_URL}${encodeURIComponent(id)}/thumb`;
export const imageUrl = (id) => `${PHOTO_URL}${encodeURIComponent(id)}/image`;

/* Thumbnails for ``ids`` (nothing when there are none). */
export function thumbs(ids, cls = "") {
  const list = [...new Set((ids || []).map(String))];
  if (!list.length) return "";
  return html`<div class="thumbs gallery ${cls}">${list.map(
    (id) => html`<button type="button" class="thumb" data-photo="${id}" aria-label="${t("photos")}">
      <img alt="" loading="lazy" data-photo-id="${id}"></button>`,
  )}</div>`;
}

/* Wire thumbnails under ``root``: photos still waiting to upload show from the outbox's blobs; a
   tap shows the photo full size over the screen, another tap closes it. */
export async function bindGallery(root) {
  const imgs = [...root.querySelectorAll("img[data-photo-id]")];
  for (const img of imgs) {
    const local = await idb.get("blobs", img.dataset.photoId).catch(() => null);
    if (local?.blob) {
      img.src = URL.createObjectURL(local.blob);
      img.closest(".thumb").dataset.local = "1";
    } else {
      img.addEventListener("error", () => img.closest(".thumb")?.classList.add("missing"), { once: true });
      img.src = thumbUrl(img.dataset.photoId);
    }
  }
  root.querySelectorAll("button.thumb").forEach((b) =>
    b.addEventListener("click", () => {
      const box = document.createElement("div");
      box.className = "lightbox";
      box.id = "lightbox";
      const big = document.createElement("img");
      big.alt = "";
      big.src = b.dataset.local ? b.querySelector("img").src : imageUrl(b.dataset.photo);
      big.onerror = () => (big.src = b.querySelector("img").src); // offline: the cached thumbnail
      box.append(big);
      box.addEventListener("click", () => box.remove());
      document.body.append(box);
    }),
  );
}

/* Every photo id the synced rows mention, newest records first. */
export async function photoIds() {
  const ids = [];
  for (const m of await idb.rows("matter")) {
    ids.push(...(m.photo_ids || []));
    for (const ev of m.timeline || []) ids.push(...(ev.photo_ids || []));
  }
  for (const x of await idb.rows("task")) ids.push(...(x.photo_ids || []));
  const visits = (await idb.rows("visit")).sort((a, b) => String(b.visited_at).localeCompare(String(a.visited_at)));
  for (const v of visits) ids.push(...(v.photo_ids || []));
  return [...new Set(ids.map(String))];
}

/* Fetch thumbnails the service worker has not kept yet, so they show offline (a few at a time). */
export async function prefetchThumbs(limit = 300) {
  if (typeof caches === "undefined" || !navigator.onLine) return 0;
  const cache = await caches.open(PHOTO_CACHE);
  let n = 0;
  for (const id of (await photoIds()).slice(0, limit)) {
    if (await cache.match(thumbUrl(id))) continue;
    const resp = await fetch(thumbUrl(id), { credentials: "same-origin" }).catch(() => null);
    if (resp?.ok) {
      await cache.put(thumbUrl(id), resp).catch(() => {});
      n++;
    } else {
      drain(resp);
    }
  }
  return n;
}
