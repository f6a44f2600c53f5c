/* The resident's rating link for a matter this worker reported for them: the server issues a
   fresh rating key (the last link given is the one that works), so it needs the network. The
   link is shown as selectable text with a copy button; nothing of it is kept on the phone. */
import { t, html, getCsrf } from "./ui.js";

export function residentLinkCard(m, me) {
  if (!me || m.reporter_id !== me.id || m.source === "resident" || m.rating || !m.code) return "";
  // A form, so a sync ending does not redraw the screen under a shown link (app.js isEditing).
  return html`<section class="card"><form id="resident-link" class="stack">
    <button type="button" id="resident-link-button">${t("resident_link")}</button>
    <p class="muted" id="resident-link-status" role="status"></p>
    <div id="resident-link-out" class="stack" hidden>
      <p class="muted">${t("resident_link_help")}</p>
      <p><strong id="resident-link-code"></strong></p>
      <textarea id="resident-link-url" rows="3" readonly></textarea>
      <button type="button" id="resident-link-copy">${t("copy")}</button>
    </div></form></section>`;
}

export function bindResidentLink(root, id) {
  const box = root.querySelector("#resident-link");
  if (!box) return;
  const status = box.querySelector("#resident-link-status");
  const out = box.querySelector("#resident-link-out");
  const url = box.querySelector("#resident-link-url");
  box.addEventListener("submit", (e) => e.preventDefault());
  url.addEventListener("focus", () => url.select());
  box.querySelector("#resident-link-button").addEventListener("click", async () => {
    if (!navigator.onLine) return (status.textContent = t("resident_link_offline"));
    status.textContent = t("loading");
    try {
      const resp = await fetch(`/api/v1/matters/${encodeURIComponent(id)}/resident-link`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": await getCsrf() },
      });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) return (status.textContent = body.detail || body.title || t("resident_link_failed"));
      status.textContent = "";
      box.querySelector("#resident-link-code").textContent = `${t("tracking_code")}：${body.code}`;
      url.value = body.url;
      out.hidden = false;
      const screen = box.closest("main");
      if (screen) screen.dataset.dirty = "1";
    } catch {
      status.textContent = t("resident_link_offline");
    }
  });
  box.querySelector("#resident-link-copy").addEventListener("click", async () => {
    url.focus();
    url.select();
    try {
      await navigator.clipboard.writeText(url.value);
      status.textContent = t("copied");
    } catch {
      document.execCommand?.("copy");  // older WebViews: the text is selected either way
    }
  });
}
