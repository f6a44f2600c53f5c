/* Settings (language, push, what is pushed and when, logout), the outbox with conflict
   resolution, and in-app login. */
import * as idb from "./idb.js";
import * as push from "./push.js";
import { counts, discard, resolveConflict, syncNow, adoptUser } from "./sync.js";
import { t, html, raw, fmtDate, getCsrf, LANG } from "./ui.js";
import { devicesCard, bindDevices } from "./devices.js";
import * as R from "./reach.js";
import { drain } from "./http.js";

export async function settings() {
  const me = await idb.meta("user");
  let pushState = "push_unsupported";
  if (push.supported()) pushState = (await push.current()) ? "push_enabled" : "push_disabled";
  return html`
    <h1>${t("settings")}</h1>
    <section class="card"><h2>${t("language")}</h2>
      <div class="actions">
        <button data-lang="zh_CN" class="${LANG === "zh-CN" ? "primary" : ""}" lang="zh-CN">中文</button>
        <button data-lang="en" class="${LANG === "en" ? "primary" : ""}" lang="en">English</button>
      </div></section>
    <section class="card"><h2>${t("push")}</h2>
      <p id="push-state">${t(pushState)}</p>
      ${pushState === "push_unsupported" ? "" : html`<button id="push-toggle" class="primary">${pushState === "push_enabled" ? t("push_off") : t("push_on")}</button>`}
    </section>
    ${R.card()}
    <section class="card" id="notify-settings"><h2>${t("notify_settings")}</h2>
      <p class="muted" id="notify-status" role="status">${t("loading")}</p>
      <form id="notify-form" hidden>
        <label class="choice"><input type="checkbox" id="quiet-enabled"> ${t("quiet_hours")}</label>
        <div class="actions">
          <label>${t("quiet_from")} <input type="time" id="quiet-start" required></label>
          <label>${t("quiet_to")} <input type="time" id="quiet-end" required></label>
        </div>
        <p class="muted">${t("quiet_hint")}</p>
        <fieldset><legend>${t("push_types")}</legend><div class="choices" id="notify-types"></div></fieldset>
        <fieldset id="notify-channels" hidden><legend>${t("other_channels")}</legend><p class="muted">${t("other_channels_hint")}</p><div class="choices"></div></fieldset>
        <div class="actions"><button class="primary" type="submit" id="notify-save">${t("save")}</button></div>
      </form>
    </section>
    <section class="card"><h2>${t("outbox")}</h2><a class="button" href="#/outbox">${t("open")}</a></section>
    ${devicesCard()}
    <section class="card">
      <p>${me ? me.display_name : ""}</p>
      <button id="logout-button">${t("logout")}</button></section>`;
}

export function bindSettings(root, rerender) {
  root.querySelectorAll("[data-lang]").forEach((b) =>
    b.addEventListener("click", async () => {
      const csrf = await getCsrf();
      drain(await fetch(`/lang/${b.dataset.lang}`, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf } }));
      const reg = await navigator.serviceWorker?.getRegistration();
      if (reg?.active) {
        await new Promise((resolve) => {
          navigator.serviceWorker.addEventListener("message", (e) => e.data?.type === "SHELL_REFRESHED" && resolve(), { once: true });
          reg.active.postMessage({ type: "REFRESH_SHELL" });
          setTimeout(resolve, 5000);
        });
      }
      location.reload();
    }),
  );
  root.querySelector("#push-toggle")?.addEventListener("click", async () => {
    const csrf = await getCsrf();
    try {
      if (await push.current()) await push.unsubscribe(csrf);
      else {
        await push.subscribe(csrf);
        await R.noteSubscribe(null);
      }
    } catch (err) {
      // Remembered: the Today notice and the reach card say push does not work on this phone.
      await R.noteSubscribe(err);
      root.querySelector("#push-state").textContent = String(err.message || err);
      R.bindCard(root);
      return;
    }
    rerender();
  });
  bindNotifySettings(root);
  R.bindCard(root);
  bindDevices(root);
  root.querySelector("#logout-button").addEventListener("click", async () => {
    const c = await counts();
    if (c.pending + c.conflicts && !confirm(t("logout_pending", { n: c.pending + c.conflicts }))) return;
    const csrf = await getCsrf();
    await fetch("/api/v1/auth/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf } })
      .then(drain)
      .catch(() => {});
    // Personal data leaves the phone with the user; their outbox stays for their next login.
    const { resetRows } = await import("./sync.js");
    await resetRows();
    await idb.setMeta("needLogin", true);
    location.hash = "#/login";
  });
}

const PUSH = "webpush";
const SETTINGS_URL = "/api/v1/notifications/settings";

/* Per-type push choices and quiet hours live on the server (the sender decides there), so this
   card needs the network: it says so instead of showing stale or made-up values. */
async function bindNotifySettings(root) {
  const box = root.querySelector("#notify-settings");
  const status = box.querySelector("#notify-status");
  const form = box.querySelector("#notify-form");
  const show = (data) => {
    const on = new Map(data.preferences.map((p) => [`${p.type}|${p.channel}`, p.enabled]));
    // Only what the admins' escalation policy offers for a type can be turned on.
    const allows = (type, ch) => !data.allowed || (data.allowed[type] || []).includes(ch);
    const box1 = (name, type, ch, label) => {
      const ok = allows(type, ch);
      return html`<label class="choice"><input type="checkbox" name="${name}" value="${type}" data-channel="${ch}"${on.get(`${type}|${ch}`) && ok ? raw(" checked") : ""}${ok ? "" : raw(" disabled")}> ${label}</label>`;
    };
    box.querySelector("#notify-types").innerHTML = data.types.map((type) => box1("push-type", type, PUSH, t(`type_${type}`))).join("");
    const others = (data.available || []).filter((ch) => ch !== PUSH && ch !== "console");
    const extra = box.querySelector("#notify-channels");
    extra.querySelector(".choices").innerHTML = others
      .map((ch) => data.types.filter((type) => allows(type, ch)).map((type) => box1("channel-pref", type, ch, `${t(`channel_${ch}`)} · ${t(`type_${type}`)}`)).join(""))
      .join("");
    extra.hidden = others.length === 0;
    const q = data.quiet_hours;
    form.querySelector("#quiet-enabled").checked = q.enabled;
    form.querySelector("#quiet-start").value = q.start.padStart(5, "0");
    form.querySelector("#quiet-end").value = q.end.padStart(5, "0");
    form.dataset.timezone = q.timezone;
    form.hidden = false;
  };
  try {
    const resp = await fetch(SETTINGS_URL, { credentials: "same-origin", cache: "no-store", signal: AbortSignal.timeout(10000) });
    if (!resp.ok) throw new Error(String(drain(resp).status));
    show(await resp.json());
    status.textContent = "";
  } catch {
    status.textContent = t("settings_online");
    return;
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      preferences: [...form.querySelectorAll("input[name=push-type], input[name=channel-pref]")]
        .filter((c) => !c.disabled)
        .map((c) => ({ type: c.value, channel: c.dataset.channel, enabled: c.checked })),
      quiet_hours: {
        enabled: form.querySelector("#quiet-enabled").checked,
        start: form.querySelector("#quiet-start").value,
        end: form.querySelector("#quiet-end").value,
        timezone: form.dataset.timezone,
      },
    };
    const button = form.querySelector("#notify-save");
    button.disabled = true;
    try {
      const resp = await fetch(SETTINGS_URL, {
        method: "PUT",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": await getCsrf() },
        body: JSON.stringify(body),
      });
      const answer = await resp.json();
      if (!resp.ok) throw new Error(answer.detail || answer.title || String(resp.status));
      show(answer);
      status.textContent = t("settings_saved");
    } catch (err) {
      status.textContent = err instanceof TypeError ? t("settings_online") : String(err.message || err);
    } finally {
      button.disabled = false;
    }
  });
}

function describe(op) {
  const p = op.payload || {};
  return p.title || p.notes || (p.changes ? Object.values(p.changes).join(" · ") : "") || p.action || "";
}

function side(obj, keys) {
  return html`<dl class="facts">${keys.map((k) => html`<dt>${k}</dt><dd>${obj?.[k] ?? ""}</dd>`)}</dl>`;
}

export async function outbox() {
  const me = await idb.meta("user");
  const ops = (await idb.outbox()).filter((o) => me && o.user_id === me.id);
  const c = await counts();
  const items = ops.map((op) => {
    const keys = op.payload?.changes ? Object.keys(op.payload.changes) : [];
    let extra = "";
    if (op.status === "conflict") {
      extra = html`<p class="warn">${t("conflict_explain")}</p>
        <div class="compare"><div><h3>${t("yours")}</h3>${side(op.payload.changes, keys)}</div>
        <div><h3>${t("theirs")}</h3>${side(op.current, keys)}</div></div>
        <div class="actions"><button class="primary" data-mine="${op.op_id}">${t("keep_mine")}</button>
        <button data-theirs="${op.op_id}">${t("keep_theirs")}</button></div>`;
    } else if (op.status === "rejected") {
      extra = html`<p class="warn">${t("rejected")}: ${op.problem?.detail || op.problem?.title || ""}</p>
        <button data-discard="${op.op_id}">${t("discard")}</button>`;
    } else if (op.next_try > Date.now()) {
      extra = html`<p class="muted">${t("retry_at", { t: fmtDate(new Date(op.next_try).toISOString(), true) })}</p>`;
    }
    return html`<li class="op ${op.status}" data-op="${op.op_id}"><div><strong>${op.label || t("op_other")}</strong>
      <span class="badge ${op.status === "pending" ? "wait" : "bad"}">${op.status === "pending" ? t("waiting") : op.status === "conflict" ? t("conflict") : t("rejected")}</span></div>
      <div class="muted">${fmtDate(op.created_at, true)} ${describe(op)}</div>${extra}</li>`;
  });
  return html`
    <h1>${t("outbox")}</h1>
    ${c.foreign ? html`<p class="warn">${t("other_user_ops", { n: c.foreign })}</p>` : ""}
    <section class="card">${ops.length ? raw(`<ul class="list" id="outbox-list">${items.join("")}</ul>`) : html`<p class="muted">${t("all_synced")}</p>`}</section>
    <button class="primary" id="sync-now">${t("sync_now")}</button>`;
}

export function bindOutbox(root, rerender) {
  root.querySelectorAll("[data-mine]").forEach((b) => b.addEventListener("click", async () => {
    await resolveConflict(b.dataset.mine, true);
    syncNow();
    rerender();
  }));
  root.querySelectorAll("[data-theirs]").forEach((b) => b.addEventListener("click", async () => {
    await resolveConflict(b.dataset.theirs, false);
    rerender();
  }));
  root.querySelectorAll("[data-discard]").forEach((b) => b.addEventListener("click", async () => {
    await discard(b.dataset.discard);
    rerender();
  }));
  root.querySelector("#sync-now").addEventListener("click", () => syncNow({ force: true }));
}

export async function login() {
  return html`
    <h1>${t("login")}</h1>
    <form id="app-login" class="stack card">
      <p class="muted">${t("login_needed")}</p>
      <label>${t("username")}<input name="username" id="app-username" autocomplete="username" required></label>
      <label>${t("password")}<input name="password" id="app-password" type="password" autocomplete="current-password" required></label>
      <p id="app-login-error" class="error" hidden></p>
      <button class="primary" type="submit" id="app-login-submit">${t("login")}</button>
    </form>`;
}

export function bindLogin(root) {
  const form = root.querySelector("#app-login");
  // A refused login's message goes as soon as the worker corrects what they typed.
  form.addEventListener("input", () => (root.querySelector("#app-login-error").hidden = true));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const err = root.querySelector("#app-login-error");
    let resp;
    try {
      const csrf = await getCsrf();
      resp = await fetch("/api/v1/auth/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
        // A device session: long-lived so an outbox kept offline for weeks can still be sent.
        body: JSON.stringify({ username: data.get("username"), password: data.get("password"), device: true }),
      });
    } catch {
      resp = null; // no network: say so rather than nothing happening
    }
    if (!resp?.ok) {
      drain(resp);
      err.textContent = t(resp ? "login_failed" : "login_offline");
      err.hidden = false;
      return;
    }
    await adoptUser(await resp.json());
    location.hash = "#/today";
    syncNow({ force: true }); // a fresh login is a good moment to retry everything now
  });
}
