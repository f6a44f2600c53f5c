/* Read screens: today, my grid (buildings → households → residents, search), household,
   matters with timelines, inbox. Each renders from IndexedDB only, so it works offline. */
import * as idb from "./idb.js";
import { enqueue } from "./sync.js";
import { appUrl } from "./links.js";
import { matterActions } from "./actions.js";
import { residentLinkCard } from "./residentlink.js";
import { contactCard } from "./contact.js";
import { thumbs } from "./gallery.js";
import { guard } from "./validate.js";
import { t, html, raw, fmtDate, fmtDue, isPast, localDay, timeValue } from "./ui.js";

const OPEN_TASK = new Set(["assigned", "accepted", "in_progress"]);
const MODES = { home: "mode_home", phone: "mode_phone", wechat: "mode_wechat", street: "mode_street" };

export const statusLabel = (s) => t(`st_${s}`) === `st_${s}` ? s : t(`st_${s}`);
/* A timeline line names what was done (报告进展), falling back to the state it led to. */
const eventLabel = (ev) => (t(`ev_${ev.action}`) !== `ev_${ev.action}` ? t(`ev_${ev.action}`) : statusLabel(ev.to_state || ""));
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

/* Where to start: counts, then overdue care visits by building (names, care tags, the longest
   overdue first), then open tasks by due time. */
export async function today() {
  const me = await idb.meta("user");
  const tasks = (await idb.rows("task"))
    .filter((x) => OPEN_TASK.has(x.state) && (!x.assignee_id || !me || x.assignee_id === me.id))
    .sort((a, b) => timeValue(a.due_at) - timeValue(b.due_at) || (b.priority || 0) - (a.priority || 0));
  const dueToday = tasks.filter((x) => x.due_at && localDay(x.due_at) <= localDay());
  const toAct = (await idb.rows("matter")).filter((m) => (m.allowed_actions || []).length);
  const buildings = await buildingMap();
  const soon = Date.now() + 3 * 86400000;
  const due = (await idb.rows("household"))
    .filter((h) => h.next_visit_due && timeValue(h.next_visit_due) <= soon)
    .sort((a, b) => timeValue(a.next_visit_due) - timeValue(b.next_visit_due));
  const overdue = due.filter((h) => isPast(h.next_visit_due));
  const tagNames = new Map((await idb.rows("care_tag")).map((x) => [x.code, x.name]));
  const people = {};
  for (const r of await idb.rows("resident")) (people[r.household_id] ||= []).push(r);
  const groups = new Map();
  for (const h of due) {
    const key = String(h.building_id);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(h);
  }
  const counts = html`<div class="counts" id="today-counts">
      <button type="button" class="count ${overdue.length ? "hot" : ""}" data-scroll="due-visits" id="count-visits"><strong>${overdue.length}</strong><span>${t("count_overdue_visits")}</span></button>
      <button type="button" class="count ${dueToday.length ? "hot" : ""}" data-scroll="tasks-due" id="count-tasks"><strong>${dueToday.length}</strong><span>${t("count_tasks_today")}</span></button>
      <a class="count ${toAct.length ? "hot" : ""}" href="#/matters" id="count-matters"><strong>${toAct.length}</strong><span>${t("count_matters_act")}</span></a>
    </div>`;
  const resident = (r) => html`<span class="who">${r.name}${(r.tags || []).map((c) => html`<span class="tag">${tagNames.get(c) || c}</span>`)}</span>`;
  const visitRow = (h) => {
    const rs = (people[h.id] || []).slice().sort((a, b) => (b.tags || []).length - (a.tags || []).length);
    return html`<li><a class="row" href="#/household/${h.id}" data-household="${h.id}">
      <span><span class="room">${[h.unit, h.room].filter(Boolean).join("-") || h.address}</span>
      ${rs.length ? html`<span class="people">${rs.slice(0, 3).map(resident)}${rs.length > 3 ? "…" : ""}</span>` : ""}</span>
      <span class="${isPast(h.next_visit_due) ? "late" : "muted"} due-at">${isPast(h.next_visit_due) ? t("overdue_since", { d: fmtDate(h.next_visit_due) }) : t("due", { d: fmtDate(h.next_visit_due) })}</span></a></li>`;
  };
  const visitGroups = [...groups.entries()].map(([bid, hs], i) => {
    const b = buildings.get(bid);
    const late = hs.filter((h) => isPast(h.next_visit_due)).length;
    return html`<details class="group" data-building="${bid}" ${raw(i < 3 ? "open" : "")}>
      <summary><span>${b ? b.name : t("no_building")}</span><span class="${late ? "late" : "muted"}">${late ? t("n_overdue", { n: late }) : t("n_due", { n: hs.length })}</span></summary>
      <ul class="list">${hs.map(visitRow)}</ul></details>`;
  });
  return html`
    <h1>${t("today")} <span class="muted date">${fmtDate(new Date())}</span></h1>
    ${counts}
    <section class="card" id="due-visits"><h2>${t("visits_due")}</h2>
      ${due.length ? visitGroups : html`<p class="muted">${t("no_visits_due")}</p>`}
    </section>
    <section class="card" id="tasks-due"><h2>${t("tasks_due")}</h2>
      ${tasks.length ? raw(`<ul class="list" id="task-list">${tasks.map((x) => html`
        <li><a class="row" href="#/task/${x.id}"><span>${x.title}${pendingBadge(x)}</span>
        <span class="${isPast(x.due_at) ? "late" : "muted"} due-at" data-due="${x.due_at || ""}">${x.due_at ? (isPast(x.due_at) ? t("overdue_at", { d: fmtDue(x.due_at) }) : t("due", { d: fmtDue(x.due_at) })) : ""}</span></a></li>`).join("")}</ul>`)
        : html`<p class="muted">${t("no_tasks")}</p>`}
    </section>`;
}

export function bindToday(root) {
  root.querySelectorAll("[data-scroll]").forEach((b) =>
    b.addEventListener("click", () => root.querySelector(`#${b.dataset.scroll}`)?.scrollIntoView({ behavior: "smooth" })),
  );
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
    <p><a class="back" href="#/grid">‹ ${t("back")}</a></p>
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
      ${h.next_visit_due ? html`<dt>${t("next_visit")}</dt><dd id="next-visit" class="${isPast(h.next_visit_due) ? "late" : ""}">${fmtDate(h.next_visit_due)}</dd>` : ""}</dl>
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
        <div class="muted">${v.notes}</div>${thumbs(v.photo_ids)}</li>`).join("")}</ul>`) : html`<p class="muted">${t("no_visits")}</p>`}
    </section>`;
}

export function bindHousehold(root, id, rerender) {
  const form = root.querySelector("#household-form");
  if (!form) return;
  guard(form);
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
  // Matters this worker can act on first, then the most recent.
  const act = (m) => ((m.allowed_actions || []).length ? 0 : 1);
  const list = (await idb.rows("matter")).sort((a, b) => act(a) - act(b) ||
    timeValue(b.updated_at || b.created_at) - timeValue(a.updated_at || a.created_at));
  return html`
    <h1>${t("matters")}</h1>
    <div class="actions"><a class="button primary" id="report-matter" href="#/report">${t("report_matter")}</a></div>
    <section class="card">${list.length ? raw(`<ul class="list" id="matter-list">${list.map((m) => html`
      <li><a class="row" href="#/matter/${m.id}"><span>${m.title || m.text}${pendingBadge(m)}
      ${(m.allowed_actions || []).length ? html` <span class="badge act">${t("to_act")}</span>` : ""}</span>
      <span class="muted state">${statusLabel(m.state || "reported")}</span></a></li>`).join("")}</ul>`) : html`<p class="muted">${t("no_matters")}</p>`}
    </section>`;
}

export async function matter(id) {
  const m = await idb.row("matter", id);
  if (!m) return html`<p class="muted">${t("no_results")}</p>`;
  const events = m.timeline || m.events || [];
  const me = await idb.meta("user");
  return html`
    <p><a class="back" href="#/matters">‹ ${t("back")}</a></p>
    <h1>${m.title || t("op_matter")}${pendingBadge(m)}</h1>
    <section class="card"><dl class="facts">
      ${m.code ? html`<dt>${t("tracking_code")}</dt><dd><strong id="matter-code">${m.code}</strong><br><span class="muted">${t("tracking_code_help")}</span></dd>` : ""}
      <dt>${t("category")}</dt><dd>${m.category || ""}</dd>
      <dt>${t("status")}</dt><dd id="matter-status">${statusLabel(m.state || "reported")}</dd>
      ${m.deadline_at ? html`<dt>${t("deadline")}</dt><dd id="matter-deadline" class="${isPast(m.deadline_at) && m.state !== "resolved" && m.state !== "closed" ? "late" : ""}">${fmtDate(m.deadline_at, true)}</dd>` : ""}
      <dt>${t("description")}</dt><dd>${m.text}</dd>${m.result ? html`<dt>${t("result")}</dt><dd>${m.result}</dd>` : ""}</dl>
      ${thumbs(m.photo_ids)}</section>
    ${contactCard(m)}
    ${matterActions(m)}
    ${residentLinkCard(m, me)}
    <section class="card"><h2>${t("timeline")}</h2><ol class="timeline" id="matter-timeline">${events.map((ev) => html`
      <li><div><time data-at="${ev.at}">${fmtDate(ev.at, true)}</time> · ${eventLabel(ev)}</div>
      <div class="muted">${ev.actor_name || ""} ${ev.note || ""}</div>${thumbs(ev.photo_ids)}</li>`)}</ol></section>`;
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
