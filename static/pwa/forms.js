/* Write screens: new visit, report a matter (task and matter actions are in actions.js). Every
   write goes to the outbox first (with an optimistic local row), so it works offline and is
   sent later. */
import * as idb from "./idb.js";
import { enqueue, uuid } from "./sync.js";
import { bindPhotoInput as bindPhotos, queuePhotos } from "./actions.js";
import { fail, filled, guard } from "./validate.js";
import { t, html, raw } from "./ui.js";

const MODES = ["home", "phone", "wechat", "street"];
const CATEGORIES = ["individual", "community", "special", "difficult"];
// The server's PHONE rule (gridapp/matters/service.py): a mobile, a landline with area code, or a
// local number.
const PHONE = /^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?|\d{7,8})$/;

function photoPicker() {
  return html`
    <fieldset><legend>${t("photos")}</legend>
      <label class="button">${t("add_photo")}<input type="file" id="photo-input" accept="image/*" capture="environment" multiple hidden></label>
      <div class="thumbs" id="thumbs"></div></fieldset>`;
}

export async function visitNew(params) {
  const hid = params.get("household");
  const h = await idb.row("household", hid);
  const residents = (await idb.rows("resident")).filter((r) => String(r.household_id) === String(hid));
  const services = (await idb.rows("service")).sort((a, b) => (a.sort || 0) - (b.sort || 0) || a.id - b.id);
  return html`
    <h1>${t("new_visit")}</h1>
    <form id="visit-form" class="stack card">
      <input type="hidden" name="household" value="${h ? h.id : ""}">
      <fieldset class="choices"><legend>${t("mode")}</legend>${MODES.map((m, i) => html`
        <label class="choice"><input type="radio" name="mode" value="${m}" ${raw(i === 0 ? "checked" : "")}>${t(`mode_${m}`)}</label>`)}
      </fieldset>
      <fieldset class="choices"><legend>${t("residents_met")}</legend>${residents.map((r) => html`
        <label class="choice"><input type="checkbox" name="resident" value="${r.id}">${r.name}</label>`)}
      </fieldset>
      ${services.length ? html`<fieldset class="choices" id="service-list"><legend>${t("services")}</legend>${services.map((s) => html`
        <label class="choice"><input type="checkbox" name="service" value="${s.code}">${s.name}</label>`)}</fieldset>` : ""}
      <label>${t("notes")}<textarea name="notes" id="visit-notes" rows="4"></textarea></label>
      ${photoPicker()}
      <div><button type="button" id="gps-button">${t("use_gps")}</button> <span id="gps-status" class="muted"></span></div>
      <button class="primary" type="submit" id="visit-submit">${t("save")}</button>
    </form>`;
}

export function bindVisit(root, params, done) {
  const form = guard(root.querySelector("#visit-form"));
  const photos = bindPhotos(root);
  let fix = null;
  root.querySelector("#gps-button").addEventListener("click", () => {
    root.dataset.dirty = "1"; // a fix taken is part of the form: a sync's redraw must not drop it
    const status = root.querySelector("#gps-status");
    if (!navigator.geolocation) return (status.textContent = t("gps_failed"));
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        fix = { lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy: Math.round(pos.coords.accuracy) };
        status.textContent = t("gps_ok", { m: fix.accuracy });
      },
      () => (status.textContent = t("gps_failed")),
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const id = uuid();
    const householdId = Number(data.get("household"));
    const visit = {
      id,
      household_id: householdId,
      mode: data.get("mode"),
      resident_ids: data.getAll("resident").map(Number),
      services: data.getAll("service"),
      notes: String(data.get("notes") || ""),
      photo_ids: photos.map((p) => p.id),
      visited_at: new Date().toISOString(),
      ...(fix || {}),
    };
    await queuePhotos(photos.splice(0), "visit", id);
    await enqueue("visit.create", visit, {
      label: t("op_visit"),
      local: { entity: "visit", data: visit, create: true },
    });
    done(`#/household/${householdId}`);
  });
}

export async function report(params) {
  const hid = params.get("household") || "";
  return html`
    <h1>${t("report_matter")}</h1>
    <form id="matter-form" class="stack card">
      <input type="hidden" name="household" value="${hid}">
      <fieldset class="choices"><legend>${t("category")}</legend>${CATEGORIES.map((c, i) => html`
        <label class="choice cat"><input type="radio" name="category" value="${c}" ${raw(i === 0 ? "checked" : "")}>
        <span><strong>${t(`cat_${c}`)}</strong><br><span class="muted">${t(`cat_${c}_help`)}</span></span></label>`)}
      </fieldset>
      <label>${t("title")}<input name="title" id="matter-title" required maxlength="200"></label>
      <label>${t("description")}<textarea name="description" id="matter-description" rows="4" required maxlength="4000"></textarea></label>
      <label>${t("matter_phone")}<input name="contact_phone" id="matter-phone" type="tel" inputmode="tel" autocomplete="off" maxlength="20"></label>
      ${photoPicker()}
      <button class="primary" type="submit" id="matter-submit">${t("submit")}</button>
    </form>`;
}

export function bindReport(root, params, done) {
  const form = guard(root.querySelector("#matter-form"));
  const photos = bindPhotos(root);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!filled(form)) return;
    const phone = form.querySelector("#matter-phone");
    const contactPhone = phone.value.trim();
    if (contactPhone && !PHONE.test(contactPhone)) return fail(phone, t("phone_invalid"));
    const data = new FormData(form);
    const me = await idb.meta("user");
    const clientId = uuid();
    const hid = data.get("household") ? Number(data.get("household")) : null;
    const household = hid ? await idb.row("household", hid) : null;
    const payload = {
      client_id: clientId,
      category: data.get("category"),
      title: String(data.get("title") || "").trim(),
      description: String(data.get("description") || "").trim(),
      household_id: hid,
      contact_phone: contactPhone,
      grid_id: household ? household.grid_id : me?.grids?.[0]?.id ?? null,
      photo_ids: photos.map((p) => p.id),
      reported_at: new Date().toISOString(),
    };
    await queuePhotos(photos.splice(0), "matter", `c:${clientId}`);
    await enqueue("matter.report", payload, {
      label: t("op_matter"),
      local: {
        entity: "matter",
        data: { ...payload, id: `c:${clientId}`, text: payload.description, state: "reported", created_at: payload.reported_at, timeline: [] },
        create: true,
      },
    });
    done("#/matters");
  });
}
