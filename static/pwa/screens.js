/* Read screens: today, my grid (buildings → households → residents, search), household,
   matters with timelines, inbox. Each renders from IndexedDB only, so it works offline. */
import * as idb from "./idb.js";
import { enqueue } from "./sync.js";
import { appUrl } from "./links.js";
import { t, html, raw, fmtDate, isPast } from "./ui.js";

const OPEN_TASK = new Set(["assigned", "accepted", "in_progress"]);
const MODES = { home: "mode_home", phone: "mode_phone", wechat: "mode_wechat", street: "mode_street" };

export const statusLabel = (s) => t(`st_${s}`) === `st_${s}` ? s : t(`st_${s}`);
export const modeLabel = (m) => t(MODES[m] || "") || m;

function householdTitle(h, buildings) {
  const b = buildings.get(String(h.building_id));
  return [b ? b.name : "", h.unit, h.room].filter(Boolean).join(" ") || h.address || `#${h.id}`;
}

async function buildingMap() {
  return new Map((await idb.rows("building")).map((b) => [String(b.id), b]));
}

function pendingBadge(row) {
  return row && row._pending ? html` <span class="badge wait">${t("waiting")}</span>` : "";
}

export async function today() {
  const me = await idb.meta("user");
  const tasks = (await idb.rows("task"))
    .filter((x) => OPEN_TASK.has(x.state) && (!x.assignee_id || !me || x.assignee_id === me.id))
    .sort((a, b) => String(a.due_at || "9").localeCompare(String(b.due_at || "9")));
  const buildings = await buildingMap();
  const soon = Date.now() + 3 * 86400000;
  const due = (await idb.rows("household"))
    .filter((h) => h.next_visit_due && new Date(h.next_visit_due).getTime() <= soon)
    .sort((a, b) => a.next_visit_due.localeCompare(b.next_visit_due))
    .slice(0, 100);
  return html`
    <h1>${t("today")}</h1>
    <section class="card"><h2>${t("tasks_due")}</h2>
      ${tasks.length ? raw(`<ul class="list">${tasks.map((x) => html`
        <li><a class="row" href="#/task/${x.id}"><span>${x.title}${pendingBadge(x)}</span>
        <span class="${isPast(x.due_at) ? "late" : "muted"}">${x.due_at ? (isPast(x.due_at) ? t("overdue") : t("due", { d: fmtDate(x.due_at) })) : ""}</span></a></li>`).join("")}</ul>`)
        : html`<p class="muted">${t("no_tasks")}</p>`}
    </section>
    <section class="card"><h2>${t("visits_due")}</h2>
      ${due.length ? raw(`<ul class="list" id="due-visits">${due.map((h) => html`
        <li><a class="row" href="#/household/${h.id}"><span>${householdTitle(h, buildings)}</span>
        <span class="${isPast(h.next_visit_due) ? "late" : "muted"}">${isPast(h.next_visit_due) ? t("overdue") : t("due", { d: fmtDate(h.next_visit_due) })}</span></a></li>`).join("")}</ul>`)
        : html`<p class="muted">${t("no_visits_due")}</p>`}
    </section>`;
}

/* Search the way people type on a phone: characters, full pinyin, initials, phone tail. */
export function matches(r, q) {
  const s = q.trim().toLowerCase().replace(/\s+/g, "");
  if (!s) return false;
  if (/^\d{4}$/.test(s)) return r.phone_tail === s;
  return (
    (r.name || "").includes(q.trim()) ||
    (r.name_pinyin || "").startsWith(s) ||
    (r.name_initials || "").startsWith(s) ||
    (s.length >= 3 && (r.name_pinyin || "").includes(s))
  );
}

export async function grid(params) {
  const q = params.get("q") || "";
  const buildings = [...(await buildingMap()).values()].sort((a, b) => a.name.localeCompare(b.name, "zh-CN", { numeric: true }));
  let body;
  if (q) {
    const found = (await idb.rows("resident")).filter((r) => matches(r, q)).slice(0, 100);
    body = found.length
      ? raw(`<ul class="list" id="search-results">${found.map((r) => html`
          <li><a class="row" href="#/household/${r.household_id}"><span>${r.name} <span class="muted">${r.relation}</span></span>
          <span class="muted">${r.phone}</span></a></li>`).join("")}</ul>`)
      : html`<p class="muted">${t("no_results")}</p>`;
  } else {
    const counts = {};
    for (const h of await idb.rows("household")) counts[h.building_id] = (counts[h.building_id] || 0) + 1;
    body = raw(`<h2>${t("buildings")}</h2><ul class="list">${buildings.map((b) => html`
      <li><a class="row" href="#/building/${b.id}"><span>${b.name}</span><span class="muted">${counts[b.id] || 0}</span></a></li>`).join("")}</ul>`);
  }
  return html`
    <h1>${t("grid")}</h1>
    <form class="search" id="search-form"><input type="search" name="q" id="search" value="${q}"
      placeholder="${t("search_placeholder")}" autocomplete="off" enterkeyhint="search"></form>
    <section class="card">${body}</section>`;
}

export function bindGrid(root) {
  const form = root.querySelector("#search-form");
  const input = root.querySelector("#search");
  let timer;
  const go = () => {
    const v = input.value.trim();
    history.replaceState(null, "", v ? `#/grid?q=${encodeURIComponent(v)}` : "#/grid");
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    go();
  });
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(go, 250);
  });
}

export async function building(id) {
  const b = await idb.row("building", id);
  const households = (await idb.rows("household"))
    .filter((h) => String(h.building_id) === String(id))
    .sort((a, c) => `${a.unit}-${a.room}`.localeCompare(`${c.unit}-${c.room}`, "zh-CN", { numeric: true }));
  const residents = await idb.rows("resident");
  const names = {};
  for (const r of residents) (names[r.household_id] ||= []).push(r.name);
  return html`
    <p><a href="#/grid">‹ ${t("back")}</a></p>
    <h1>${b ? b.name : ""}</h1>
    <section class="card"><ul class="list">${households.map((h) => html`
      <li><a class="row" href="#/household/${h.id}"><span>${[h.unit, h.room].filter(Boolean).join("-") || h.address}</span>
      <span class="muted">${(names[h.id] || []).join("、")}</span></a></li>`)}</ul></section>`;
}

export async function household(id) {
  const h = await idb.row("household", id);
  if (!h) return html`<p class="muted">${t("no_results")}</p>`;
  const buildings = await buildingMap();
  const tags = new Map((await idb.rows("care_tag")).map((x) => [x.code, x.name]));
  const residents = (await idb.rows("resident")).filter((r) => String(r.household_id) === String(id));
  const visits = (await idb.rows("visit"))
    .filter((v) => String(v.household_id) === String(id))
    .sort((a, b) => String(b.visited_at).localeCompare(String(a.visited_at)));
  return html`
    <h1>${householdTitle(h, buildings)}${pendingBadge(h)}</h1>
    <div class="actions">
      <a class="button primary" id="new-visit" href="#/visit/new?household=${h.id}">${t("new_visit")}</a>
      <a class="button" id="report-here" href="#/report?household=${h.id}">${t("report_matter")}</a>
    </div>
    <section class="card">
      <dl class="facts"><dt>${t("address")}</dt><dd>${h.address}</dd>
      <dt>${t("phone")}</dt><dd>${h.phone}</dd>
      <dt>${t("notes")}</dt><dd id="household-notes">${h.notes}</dd>
      ${h.next_visit_due ? html`<dt>${t("visits_due")}</dt><dd>${fmtDate(h.next_visit_due)}</dd>` : ""}</dl>
      <details id="edit-household"><summary class="button">${t("edit")}</summary>
        <form id="household-form" class="stack">
          <label>${t("phone")}<input name="phone" inputmode="tel" placeholder="${h.phone}"></label>
          <label>${t("notes")}<textarea name="notes" rows="3">${h.notes}</textarea></label>
          <button class="primary" type="submit">${t("save")}</button>
        </form></details>
    </section>
    <section class="card"><h2>${t("residents")}</h2><ul class="list">${residents.map((r) => html`
      <li class="resident"><div><strong>${r.name}</strong> <span class="muted">${r.relation} ${r.birth_year ? t("born", { y: r.birth_year }) : ""}</span></div>
      <div class="muted">${r.phone}</div>
      <div>${r.tags.map((c) => html`<span class="tag">${tags.get(c) || c}</span>`)}</div></li>`)}</ul></section>
    <section class="card"><h2>${t("visit_history")}</h2>
      ${visits.length ? raw(`<ul class="list" id="visit-history">${visits.map((v) => html`
        <li><div>${fmtDate(v.visited_at, true)} · ${modeLabel(v.mode)}${pendingBadge(v)}</div>
        <div class="muted">${v.notes}</div></li>`).join("")}</ul>`) : html`<p class="muted">${t("no_visits")}</p>`}
    </section>`;
}

export function bindHousehold(root, id, rerender) {
  const form = root.querySelector("#household-form");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const h = await idb.row("household", id);
    const data = new FormData(form);
    const changes = {};
    if (data.get("phone")) changes.phone = String(data.get("phone")).trim();
    if (data.get("notes") !== h.notes) changes.notes = String(data.get("notes"));
    if (!Object.keys(changes).length) return;
    const shown = { ...h, ...changes, phone: changes.phone ? changes.phone.replace(/^(\d{3})\d{4}(\d{4})$/, "$1****$2") : h.phone };
    await enqueue("household.update", { id: h.id, changes }, {
      baseVersion: h.version,
      label: t("op_household"),
      local: { entity: "household", data: shown, prev: h },
    });
    rerender();
  });
}

export async function matters() {
  const list = (await idb.rows("matter")).sort((a, b) =>
    String(b.updated_at || b.created_at || "").localeCompare(String(a.updated_at || a.created_at || "")),
  );
  return html`
    <h1>${t("matters")}</h1>
    <div class="actions"><a class="button primary" id="report-matter" href="#/report">${t("report_matter")}</a></div>
    <section class="card">${list.length ? raw(`<ul class="list" id="matter-list">${list.map((m) => html`
      <li><a class="row" href="#/matter/${m.id}"><span>${m.title || m.text}${pendingBadge(m)}</span>
      <span class="muted">${statusLabel(m.state || "reported")}</span></a></li>`).join("")}</ul>`) : html`<p class="muted">${t("no_matters")}</p>`}
    </section>`;
}

export async function matter(id) {
  const m = await idb.row("matter", id);
  if (!m) return html`<p class="muted">${t("no_results")}</p>`;
  const events = m.timeline || m.events || [];
  return html`
    <p><a href="#/matters">‹ ${t("back")}</a></p>
    <h1>${m.title || t("op_matter")}${pendingBadge(m)}</h1>
    <section class="card"><dl class="facts">
      <dt>${t("category")}</dt><dd>${m.category || ""}</dd>
      <dt>${t("status")}</dt><dd id="matter-status">${statusLabel(m.state || "reported")}</dd>
      ${m.deadline_at ? html`<dt>${t("due", { d: "" })}</dt><dd>${fmtDate(m.deadline_at, true)}</dd>` : ""}
      <dt>${t("description")}</dt><dd>${m.text}</dd>${m.result ? html`<dt>${t("result")}</dt><dd>${m.result}</dd>` : ""}</dl></section>
    <section class="card"><h2>${t("timeline")}</h2><ol class="timeline">${events.map((ev) => html`
      <li><div>${fmtDate(ev.at, true)} · ${statusLabel(ev.to_state || "")}</div>
      <div class="muted">${ev.actor_name || ""} ${ev.note || ""}</div></li>`)}</ol></section>`;
}

export async function inbox() {
  const list = (await idb.rows("notification")).sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
  return html`
    <h1>${t("inbox")}</h1>
    <section class="card">${list.length ? raw(`<ul class="list" id="inbox-list">${list.map((n) => html`
      <li class="${n.read_at ? "" : "unread"}"><a class="row" data-note="${n.id}" href="${appUrl(n.link).replace("/app", "")}">
      <span><strong>${n.title}</strong><br><span class="muted">${n.body}</span></span>
      <span class="muted">${fmtDate(n.created_at, true)}</span></a></li>`).join("")}</ul>`) : html`<p class="muted">${t("no_messages")}</p>`}
    </section>`;
}

export function bindInbox(root) {
  root.querySelectorAll("[data-note]").forEach((a) =>
    a.addEventListener("click", async () => {
      const n = await idb.row("notification", a.dataset.note);
      if (n && !n.read_at) {
        await enqueue("notification.read", { id: n.id }, {
          label: t("inbox"),
          local: { entity: "notification", data: { ...n, read_at: new Date().toISOString() }, prev: n },
        });
      }
    }),
  );
}
