/* "My devices": where this account is logged in (this phone's app, other phones, browsers),
   each with when it was last seen; log one out, or every one but this. The list lives on the
   server, so the card needs the network and says so otherwise. */
import { t, html, fmtDate, getCsrf } from "./ui.js";
import { drain } from "./http.js";

export function devicesCard() {
  return html`<section class="card" id="my-devices"><h2>${t("my_devices")}</h2>
    <p class="muted" id="devices-status" role="status">${t("loading")}</p>
    <div class="stack" id="devices-list"></div>
    <button id="devices-others" hidden>${t("log_out_others")}</button></section>`;
}

async function call(method, url) {
  const csrf = await getCsrf();
  return drain(await fetch(url, { method, credentials: "same-origin", headers: { "X-CSRFToken": csrf } }));
}

export async function bindDevices(root) {
  const box = root.querySelector("#my-devices");
  if (!box) return;
  const status = box.querySelector("#devices-status");
  const list = box.querySelector("#devices-list");
  const others = box.querySelector("#devices-others");
  let rows;
  try {
    const resp = await fetch("/api/v1/sessions", { credentials: "same-origin", cache: "no-store" });
    if (!resp.ok) throw new Error(String(drain(resp).status));
    rows = await resp.json();
  } catch {
    status.textContent = t("settings_online");
    return;
  }
  status.hidden = true;
  list.innerHTML = rows
    .map(
      (s) => html`<div class="row" data-session="${s.id}">
        <span><strong>${s.kind === "device" ? t("device_app") : t("device_browser")}</strong> ${s.user_agent}
          ${s.current ? html`<em>(${t("this_device")})</em>` : ""}<br>
          <small class="muted">${t("last_seen", { when: fmtDate(s.last_seen_at, true) })}</small></span>
        ${s.current ? "" : html`<button data-end="${s.id}">${t("log_out_device")}</button>`}</div>`,
    )
    .join("");
  others.hidden = !rows.some((s) => !s.current);
  list.querySelectorAll("[data-end]").forEach((b) =>
    b.addEventListener("click", async () => {
      if ((await call("DELETE", `/api/v1/sessions/${b.dataset.end}`)).ok) b.closest("[data-session]").remove();
    }),
  );
  others.addEventListener("click", async () => {
    if (!(await call("POST", "/api/v1/sessions/revoke-others")).ok) return;
    list.querySelectorAll("[data-end]").forEach((b) => b.closest("[data-session]").remove());
    others.hidden = true;
  });
}
