/* Acting on what the worker is given: the task screen and the actions card of a matter. The
   buttons are the server's ``allowed_actions`` for this worker on that record (nothing is
   re-derived here), each queued in the outbox as a sync op, so it works offline; photos go with
   the actions that take them. */
import * as idb from "./idb.js";
import { enqueue, uuid } from "./sync.js";
import { downscale } from "./photos.js";
import { statusLabel } from "./screens.js";
import { thumbs } from "./gallery.js";
import { contactCard } from "./contact.js";
import { fail, filled, guard } from "./validate.js";
import { t, html, fmtDate } from "./ui.js";

/* What each action needs written (the server's REQUIRES, named for the form) and whether it takes
   photos. Tasks: done needs a note, return a reason. Matters: progress a note, resolve a result,
   return a reason. */
const TASK = {
  accept: { to: "accepted", next: ["start", "return"] },
  start: { to: "in_progress", next: ["done", "return"] },
  done: { to: "done", next: [], text: "note", photos: true },
  return: { to: "returned", next: [], text: "reason" },
};
const MATTER = {
  accept: { to: "in_progress", next: ["progress", "resolve", "return"], photos: true },
  progress: { to: "in_progress", next: ["progress", "resolve", "return"], text: "note", photos: true },
  resolve: { to: "resolved", next: [], text: "result", photos: true },
  return: { to: "returned", next: [], text: "reason" },
  rate: { to: "closed", next: [] }, // the worker who reported it rates the result
};
const RATINGS = ["满意", "基本满意", "不满意"];
const wantsPhotos = (text) => /拍照|照片|photo/i.test(text || "");

function photoField(hint) {
  return html`
    <fieldset id="action-photos"><legend>${hint ? t("photos_asked") : t("photos")}</legend>
      <label class="button">${t("add_photo")}<input type="file" id="photo-input" accept="image/*" capture="environment" multiple hidden></label>
      <div class="thumbs" id="thumbs"></div></fieldset>`;
}

/* Photos are downscaled on the phone (≤ 1600 px JPEG) and kept as blobs until uploaded.
   What was picked belongs to the screen, not to one drawing of its form: a sync may redraw the
   screen while the camera is open (the app went to the background and came back), and the photo
   must land in the form that is there when the picker returns, not in the one it was opened from.
   So the list lives here, keyed by the screen's address, and each redraw of that screen shows it
   again; it is emptied when the form is saved (the caller takes the photos) or the worker leaves
   the screen (coming back is a new form, its text empty too). */
let picked = { screen: null, photos: [] };

function thumb(p) {
  const img = document.createElement("img");
  img.src = p.url;
  img.alt = "";
  img.dataset.photo = p.id;
  return img;
}

export function bindPhotoInput(root) {
  const screen = location.hash;
  const redraw = document.getElementById("screen")?.dataset.route === screen.split("?")[0];
  if (picked.screen !== screen || !redraw) picked = { screen, photos: [] };
  const photos = picked.photos;
  const input = root.querySelector("#photo-input");
  if (!input) return photos;
  const box = () => (root.isConnected ? root : document).querySelector("#thumbs");
  box()?.append(...photos.map(thumb));
  input.addEventListener("change", async () => {
    const files = [...input.files];
    input.value = "";
    // Mark the screen as being edited even if this input was replaced meanwhile (a detached
    // input's change does not bubble to the screen's own listener).
    const main = document.getElementById("screen");
    if (main) main.dataset.dirty = "1";
    for (const file of files) {
      const { blob, width, height } = await downscale(file);
      if (picked.photos !== photos) return; // the worker left for another screen meanwhile
      const p = { id: uuid(), blob, width, height, url: URL.createObjectURL(blob) };
      photos.push(p);
      box()?.append(thumb(p));
    }
  });
  return photos;
}

export async function queuePhotos(photos, ownerType = "", ownerId = "") {
  for (const p of photos) {
    await enqueue("photo.upload", { id: p.id, owner_type: ownerType, owner_id: ownerId }, {
      label: t("op_photo"),
      blobs: [{ id: p.id, blob: p.blob, width: p.width, height: p.height }],
    });
  }
}

/* The form for a record's offered actions: one text field (its label says what the chosen
   action needs), photos when one of them takes photos, one button per action. */
function actionForm(kind, offered, table, photoHint) {
  if (!offered.length) return "";
  const textual = offered.filter((a) => table[a]?.text).map((a) => `${t(`act_${kind}_${a}`)}：${t(`need_${table[a].text}`)}`);
  return html`<form id="${kind}-form" class="stack card">
      <h2>${t("your_actions")}</h2>
      <label>${t("notes")}<textarea name="note" rows="3" id="${kind}-note"></textarea></label>
      ${textual.length ? html`<p class="muted hint">${textual.join("；")}</p>` : ""}
      ${offered.some((a) => table[a]?.photos) ? photoField(photoHint) : ""}
      <div class="actions">${offered.flatMap((a) => a === "rate" ? RATINGS.map((r, i) => html`<button type="submit" name="action"
        value="rate" data-rating="${r}" class="${i ? "" : "primary"}" id="${kind}-rate-${i}">${r}</button>`)
        : html`<button type="submit" name="action" value="${a}"
        class="${a === "return" ? "" : "primary"}" id="${kind}-${a}">${t(`act_${kind}_${a}`)}</button>`)}</div>
    </form>`;
}

export async function task(id) {
  const x = await idb.row("task", id);
  if (!x) return html`<p class="muted">${t("no_results")}</p>`;
  const offered = (x.allowed_actions || []).filter((a) => TASK[a]);
  return html`
    <p><a class="back" href="#/today">‹ ${t("back")}</a></p>
    <h1 id="task-title">${x.title}</h1>
    <section class="card"><dl class="facts">
      <dt>${t("status")}</dt><dd id="task-status">${statusLabel(x.state)}${x._pending ? html` <span class="badge wait">${t("waiting")}</span>` : ""}</dd>
      <dt>${t("due_label")}</dt><dd id="task-due">${fmtDate(x.due_at, true)}</dd>
      <dt>${t("priority")}</dt><dd>${t(`prio_${x.priority || 0}`)}</dd>
      <dt>${t("description")}</dt><dd>${x.description}</dd>
      ${x.household_id ? html`<dt>${t("household")}</dt><dd><a class="go" href="#/household/${x.household_id}">${t("open")}</a></dd>` : ""}
      ${x.matter_id ? html`<dt>${t("op_matter")}</dt><dd><a class="go" href="#/matter/${x.matter_id}">${t("open")}</a></dd>` : ""}
      ${x.result_note ? html`<dt>${t("result")}</dt><dd>${x.result_note}</dd>` : ""}
      ${x.return_reason ? html`<dt>${t("reason")}</dt><dd>${x.return_reason}</dd>` : ""}
    </dl>${thumbs(x.photo_ids)}</section>
    ${contactCard(x, "task")}
    ${actionForm("task", offered, TASK, wantsPhotos(`${x.title} ${x.description}`))}`;
}

/* The row as the server will have it after one move: each transition bumps the version by one,
   so a second action taken offline on the same record is based on the version the first one
   makes (a wrong guess comes back as a conflict to decide, never a silent overwrite). */
const predicted = (row) => (row.version == null ? {} : { version: row.version + 1 });

/* Submit handler shared by tasks and matters: check what the chosen action needs, queue photos
   and the op, show the predicted row until the server's arrives. */
function bindActions(root, kind, id, table, send, done) {
  const form = root.querySelector(`#${kind}-form`);
  if (!form) return;
  guard(form);
  const photos = bindPhotoInput(form);
  const note = form.querySelector(`#${kind}-note`);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const action = e.submitter?.value;
    const spec = table[action];
    if (!spec) return;
    const text = note.value.trim();
    if (spec.text && !filled(form, [note])) return;
    const row = await idb.row(kind, id);
    if (!row) return fail(note, t("no_results"));
    const sending = spec.photos ? photos.splice(0) : [];
    await queuePhotos(sending);
    const rating = e.submitter?.dataset.rating || null;
    await send(row, action, text, sending.map((p) => p.id), rating ? { ...spec, rating, to: rating === "不满意" ? "reopened" : spec.to } : spec);
    done(location.hash);
  });
}

export function bindTask(root, id, done) {
  bindActions(root, "task", id, TASK, async (x, action, note, photoIds, spec) => {
    await enqueue("task.transition", { id: x.id, action, note, reason: action === "return" ? note : "", photo_ids: photoIds }, {
      baseVersion: x.version ?? null,
      label: t("op_task"),
      local: {
        entity: "task",
        data: { ...x, ...predicted(x), state: spec.to, allowed_actions: spec.next, photo_ids: [...(x.photo_ids || []), ...photoIds],
          result_note: action === "done" ? note : x.result_note },
        prev: x,
      },
    });
  }, done);
}

/* The actions card on a matter's screen (empty when the server offers this worker nothing). */
export function matterActions(m) {
  const offered = (m.allowed_actions || []).filter((a) => MATTER[a]);
  return actionForm("matter", offered, MATTER, false);
}

export function bindMatter(root, id, done) {
  bindActions(root, "matter", id, MATTER, async (m, action, text, photoIds, spec) => {
    const me = await idb.meta("user");
    const event = { at: new Date().toISOString(), action, from_state: m.state, to_state: spec.to,
      actor_name: me?.display_name || "", note: text, photo_ids: photoIds };
    await enqueue("matter.transition", {
      id: m.id, action, note: text,
      reason: action === "return" ? text : "", result: action === "resolve" ? text : "", photo_ids: photoIds,
      ...(spec.rating ? { rating: spec.rating } : {}),
    }, {
      baseVersion: m.version ?? null,
      label: t("op_matter_action"),
      local: {
        entity: "matter",
        data: { ...m, ...predicted(m), state: spec.to, allowed_actions: spec.next, timeline: [...(m.timeline || []), event],
          result: action === "resolve" ? text : m.result, rating: spec.rating || m.rating },
        prev: m,
      },
    });
  }, done);
}
