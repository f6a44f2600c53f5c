/* The resident's rating link for a matter this worker reported for them: the server issues a
   fresh rating key (the last link given is the one that works), so it needs the network. The
   link is shown as selectable text with a copy button. It is kept in memory only (never in
   IndexedDB), so a sync redrawing the screen shows it again without storing the key. */
import { t, html, raw, getCsrf } from "./ui.js";

const shown = new Map(); // matter id → {code, url}, for this page's lifetime

export function residentLinkCard(m, me) {
  if (!me || m.reporter_id !== me.id || m.source === "resident" || m.rating || !m.code) return "";
  const got = shown.get(String(m.id));
  return html`<section class="card stack" id="resident-link" data-matter="${m.id}">
    <button type="button" id="resident-link-button">${t("resident_link")}</button>
    <p class="muted" id="resident-link-status" role="status"></p>
    <div id="resident-link-out" class="stack" ${raw(got ? "" : "hidden")}>
      <p class="muted">${t("resident_link_help")}</p>
      <p><strong id="resident-link-code">${got ? `${t("tracking_code")}：${got.code}` : ""}</strong></p>
      <textarea id="resident-link-url" rows="3" readonly>${got ? got.url : ""}</textarea>
      <button type="button" id="resident-link-copy">${t("copy")}</button>
    </div></section>`;
}

export function bindResidentLink(root, id) {
  const box = root.querySelector("#resident-link");
  if (!box) return;
  const url = box.querySelector("#resident-link-url");
  url.addEventListener("focus", () => url.select());
  box.querySelector("#resident-link-button").addEventListener("click", async () => {
    // A sync may redraw the screen meanwhile: always write into the card that is there now.
    const el = (sel) => document.querySelector(`#resident-link[data-matter="${CSS.escape(String(id))}"] ${sel}`) || { hidden: true };
    const say = (text) => (el("#resident-link-status").textContent = text);
    if (!navigator.onLine) return say(t("resident_link_offline"));
    say(t("loading"));
    let resp, body;
    try {
      resp = await fetch(`/api/v1/matters/${encodeURIComponent(id)}/resident-link`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": await getCsrf() },
      });
      body = await resp.json().catch(() => ({}));
    } catch {
      return say(t("resident_link_offline"));
    }
    if (!resp.ok) return say(body.detail || body.title || t("resident_link_failed"));
    shown.set(String(id), { code: body.code, url: body.url });
    say("");
    el("#resident-link-code").textContent = `${t("tracking_code")}：${body.code}`;
    el("#resident-link-url").value = body.url;
    el("#resident-link-out").hidden = false;
  });
  box.querySelector("#resident-link-copy").addEventListener("click", async () => {
    const url = document.querySelector("#resident-link-url");
    url.focus();
    url.select();
    try {
      await navigator.clipboard.writeText(url.value);
      document.querySelector("#resident-link-status").textContent = t("copied");
    } catch {
      document.execCommand?.("copy"); // older WebViews: the text is selected either way
    }
  });
}
