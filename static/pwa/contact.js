/* The resident's phone on a matter (the contact the report gave) and on an at-home service's
   task (the booking's): the mirror holds it masked (138****1234) with the server's
   `contact_revealable`; only then does the card offer "show the full number", which asks for a
   reason (as the console does), needs the network, and POSTs the reveal (audited and throttled
   by the server). The full number lives in memory for this screen only: never in IndexedDB,
   never in the service worker's caches (it only caches GETs outside /api/), and it is forgotten
   as soon as the worker leaves the screen. */
import { t, html, raw, getCsrf } from "./ui.js";

// Per kind of screen (its route is #/<kind>/<id>): where the reveal is asked, which field answers
const KINDS = {
  matter: { url: (id) => `/api/v1/matters/${encodeURIComponent(id)}/contact/reveal`, field: "contact_phone" },
  task: { url: (id) => `/api/v1/tasks/${encodeURIComponent(id)}/contact/reveal`, field: "phone" },
};

let revealed = null; // {kind, id, phone} while that screen is shown
let asking = null; // "kind/id" whose reason form is open (a sync's redraw keeps it open)

// Leaving the screen forgets it, judged by where each navigation went: two quick hash changes
// (away and straight back) both fire after the second, when location.hash is the screen again.
addEventListener("hashchange", (event) => {
  const to = new URL(event.newURL).hash;
  if (revealed && to !== `#/${revealed.kind}/${revealed.id}`) revealed = null;
  if (asking && to !== `#/${asking}`) asking = null;
});

const REASONS = ["reveal_reason_1", "reveal_reason_2", "reveal_reason_3"];

export function contactCard(m, kind = "matter") {
  if (!m.contact_phone) return "";
  const key = `${kind}/${m.id}`;
  // Shown only while the server's row still allows it (a task done meanwhile takes it away).
  const full =
    m.contact_revealable && revealed && `${revealed.kind}/${revealed.id}` === key ? revealed.phone : "";
  return html`<section class="card stack" id="${kind}-contact" data-id="${m.id}">
    <dl class="facts"><dt>${t("contact_phone")}</dt><dd>${full
      ? html`<a class="button" id="contact-tel" href="tel:${full}">${full}</a>`
      : html`<span id="contact-phone">${m.contact_phone}</span>`}</dd></dl>
    ${full ? html`<p class="muted">${t("reveal_call_help")}</p>` : ""}
    ${m.contact_revealable && !full ? html`
    <button type="button" id="reveal-phone">${t("reveal_phone")}</button>
    <form id="reveal-form" class="stack" ${asking === key ? "" : raw("hidden")}>
      <label>${t("reveal_why")}<select name="reason"><option value="">—</option>${REASONS.map((k) => html`<option>${t(k)}</option>`)}</select></label>
      <label>${t("reveal_own_words")}<input name="reason_text" maxlength="200" autocomplete="off"></label>
      <button type="submit" class="primary">${t("reveal_submit")}</button>
    </form>
    <p class="muted" id="reveal-status" role="status"></p>` : ""}</section>`;
}

export function bindContact(root, id, rerender, kind = "matter") {
  const box = root.querySelector(`#${kind}-contact`);
  if (!box || !box.querySelector("#reveal-phone")) return;
  // A sync may redraw the screen meanwhile: always write into the card that is there now.
  const el = (sel) => document.querySelector(`#${kind}-contact[data-id="${CSS.escape(String(id))}"] ${sel}`);
  const say = (text) => {
    const status = el("#reveal-status");
    if (status) status.textContent = text;
  };
  box.querySelector("#reveal-phone").addEventListener("click", () => {
    if (!navigator.onLine) return say(t("reveal_offline"));
    say("");
    asking = `${kind}/${id}`;
    box.querySelector("#reveal-form").hidden = false;
    box.querySelector("#reveal-form select").focus();
  });
  box.querySelector("#reveal-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const reason = form.reason_text.value.trim() || form.reason.value;
    if (!reason) return say(t("reveal_no_reason"));
    if (!navigator.onLine) return say(t("reveal_offline"));
    say(t("loading"));
    let resp, body;
    try {
      resp = await fetch(KINDS[kind].url(id), {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: { "Content-Type": "application/json", "X-CSRFToken": await getCsrf() },
        body: JSON.stringify({ reason }),
      });
      body = await resp.json().catch(() => ({}));
    } catch {
      return say(t("reveal_offline"));
    }
    if (!resp.ok) return say(body.detail || body.title || t("reveal_failed"));
    revealed = { kind, id: String(id), phone: String(body[KINDS[kind].field] || "") };
    asking = null;
    rerender();
  });
}

