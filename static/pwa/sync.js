/* The outbox and the sync protocol (DESIGN section 9), usable from the page and from the
   service worker (Background Sync, push). Operations are queued with a client op id and the
   id of the user who made them; they are sent only under that user, in the order they were
   made, and removed only once the server answered for them, so a replay is harmless. */
import * as idb from "./idb.js";
import { drain } from "./http.js";

export const PHOTO_URL = "/api/v1/photos/"; // PUT …/<client uuid>, multipart field "file"
const BATCH = 50;
const PAGE = 1000;
const MAX_BACKOFF = 15 * 60 * 1000;
let running = null;
let counter = 0;

const channel = typeof BroadcastChannel !== "undefined" ? new BroadcastChannel("gridapp") : null;
function broadcast(message) {
  channel?.postMessage(message);
  if (typeof window !== "undefined") window.dispatchEvent(new CustomEvent("gridapp", { detail: message }));
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function requestBackgroundSync() {
  const reg = globalThis.registration || null; // in the service worker
  const ready = reg ? Promise.resolve(reg) : globalThis.navigator?.serviceWorker?.ready;
  if (!ready) return;
  ready.then((r) => r.sync && r.sync.register("outbox")).catch(() => {});
}

/* Queue an operation. ``local`` is the optimistic row shown until the server's arrives. */
export async function enqueue(type, payload, { baseVersion = null, label = "", local = null, blobs = [] } = {}) {
  const user = await idb.meta("user");
  if (!user) throw new Error("not signed in on this phone");
  const op = {
    op_id: uuid(),
    seq: Date.now() * 1000 + (counter++ % 1000),
    user_id: user.id,
    type,
    payload,
    base_version: baseVersion,
    label,
    local,
    status: "pending",
    attempts: 0,
    next_try: 0,
    created_at: new Date().toISOString(),
  };
  await idb.tx(["outbox", "blobs", "rows"], "readwrite", (s) => {
    s.outbox.put(op);
    for (const b of blobs) s.blobs.put({ ...b, user_id: user.id });
    if (local) s.rows.put({ entity: local.entity, id: String(local.data.id), data: { ...local.data, _pending: true } });
  });
  broadcast({ type: "outbox" });
  requestBackgroundSync();
  return op;
}

export async function counts() {
  const user = await idb.meta("user");
  const ops = await idb.outbox();
  const mine = ops.filter((o) => user && o.user_id === user.id);
  return {
    pending: mine.filter((o) => o.status === "pending").length,
    conflicts: mine.filter((o) => o.status === "conflict").length,
    rejected: mine.filter((o) => o.status === "rejected").length,
    foreign: ops.length - mine.length,
  };
}

export function syncNow(opts = {}) {
  if (running) return running;
  const work = () => doSync(opts);
  const locks = globalThis.navigator?.locks;
  running = (locks ? locks.request("gridapp-sync", work) : work()).finally(() => {
    running = null;
  });
  return running;
}

async function doSync(opts) {
  broadcast({ type: "sync-start" });
  let result = { ok: false };
  try {
    const me = await fetchMe();
    if (!me) {
      result = { login: true };
      return result;
    }
    await pushOutbox(me, opts);
    await pull();
    await idb.setMeta("lastSync", new Date().toISOString());
    result = { ok: true };
  } catch (err) {
    result = { ok: false, error: String(err && err.message ? err.message : err) };
  } finally {
    broadcast({ type: "sync-end", result });
  }
  return result;
}

class LoginNeeded extends Error {}

/* Who is logged in (and a fresh CSRF token for this sync), or null after a 401. */
async function fetchMe() {
  const resp = await fetch("/api/v1/me", { credentials: "same-origin", cache: "no-store" });
  if (resp.status === 401) {
    drain(resp);
    await idb.setMeta("needLogin", true);
    return null;
  }
  if (!resp.ok) throw new Error(`me: HTTP ${drain(resp).status}`);
  const me = await resp.json();
  await adoptUser(me);
  return me;
}

/* A different account on this phone: the previous user's rows go; their outbox stays, unsent. */
export async function adoptUser(me) {
  const prev = await idb.meta("user");
  if (prev && prev.id !== me.id) {
    await idb.clearRows();
    // The previous user's photos leave with their rows (gallery.js / sw.js keep them here).
    if (typeof caches !== "undefined") await caches.delete("gridapp-photos").catch(() => {});
  }
  await idb.setMeta("user", {
    id: me.id,
    username: me.username,
    display_name: me.display_name,
    role: me.role,
    grids: me.grids,
  });
  await idb.setMeta("needLogin", false);
}

function backoffMs(attempts) {
  return Math.min(MAX_BACKOFF, 5000 * 2 ** Math.min(attempts, 12)) * (0.75 + Math.random() / 2);
}

async function backoff(ops, error) {
  const now = Date.now();
  await idb.tx("outbox", "readwrite", (s) => {
    for (const op of ops) {
      op.attempts += 1;
      op.next_try = now + backoffMs(op.attempts);
      op.last_error = String(error || "");
      s.outbox.put(op);
    }
  });
}

async function pushOutbox(me, { force = false } = {}) {
  const now = Date.now();
  const ops = (await idb.outbox()).filter(
    (o) => o.user_id === me.id && o.status === "pending" && (force || o.next_try <= now),
  );
  // Photos first, each on its own: a record that refers to a photo never waits for it.
  for (const op of ops.filter((o) => o.type === "photo.upload")) await uploadPhoto(me, op);
  const rest = ops.filter((o) => o.type !== "photo.upload");
  for (let i = 0; i < rest.length; i += BATCH) {
    const batch = rest.slice(i, i + BATCH);
    let resp;
    try {
      resp = await fetch("/api/v1/sync", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": me.csrf_token },
        body: JSON.stringify({
          ops: batch.map((o) => ({ op_id: o.op_id, type: o.type, payload: o.payload, base_version: o.base_version })),
        }),
      });
    } catch (err) {
      await backoff(batch, err);
      throw err;
    }
    if (resp.status === 401) {
      drain(resp);
      await idb.setMeta("needLogin", true);
      return;
    }
    if (!resp.ok) {
      drain(resp);
      await backoff(batch, `HTTP ${resp.status}`);
      if (resp.status >= 500 || resp.status === 429) return;
      throw new Error(`push: HTTP ${resp.status}`);
    }
    const { results } = await resp.json();
    await applyResults(batch, results);
  }
}

async function applyResults(batch, results) {
  const byId = Object.fromEntries(results.map((r) => [r.op_id, r]));
  await idb.tx(["outbox", "rows"], "readwrite", (s) => {
    for (const op of batch) {
      const r = byId[op.op_id];
      if (!r) continue;
      const status = r.status === "duplicate" ? r.first_status : r.status;
      if (status === "applied") {
        s.outbox.delete(op.op_id);
        if (op.local && String(op.local.data.id) !== String(r.id)) {
          s.rows.delete([op.local.entity, String(op.local.data.id)]);
        }
        // A duplicate's row is the server's current one (or none: the pull brings it), never
        // the row as first applied, so a replay cannot roll this copy back.
        if (r.row && r.entity) s.rows.put({ entity: r.entity, id: String(r.id), data: r.row });
      } else if (status === "conflict") {
        s.outbox.put({ ...op, status: "conflict", current: r.current, problem: r.problem });
      } else if (status === "retry" || (r.problem && (r.problem.status >= 500 || r.problem.code === "unknown_op"))) {
        // Not the op's fault (a transient cause, a server error, an older server): try again later.
        const attempts = op.attempts + 1;
        s.outbox.put({ ...op, attempts, next_try: Date.now() + backoffMs(attempts), problem: r.problem });
      } else {
        s.outbox.put({ ...op, status: "rejected", problem: r.problem || null });
      }
    }
  });
  broadcast({ type: "outbox" });
}

async function uploadPhoto(me, op) {
  const blob = await idb.get("blobs", op.payload.id);
  if (!blob) {
    await idb.del("outbox", op.op_id);
    return;
  }
  const form = new FormData();
  for (const [k, v] of Object.entries(op.payload)) if (k !== "id") form.append(k, v);
  form.append("file", blob.blob, `${op.payload.id}.jpg`);
  let resp;
  try {
    resp = await fetch(PHOTO_URL + encodeURIComponent(op.payload.id), {
      method: "PUT",
      credentials: "same-origin",
      headers: { "X-CSRFToken": me.csrf_token },
      body: form,
    });
  } catch (err) {
    await backoff([op], err);
    return;
  }
  if (resp.ok || resp.status === 409) {
    drain(resp);
    await idb.tx(["outbox", "blobs"], "readwrite", (s) => {
      s.outbox.delete(op.op_id);
      s.blobs.delete(op.payload.id);
    });
  } else if (resp.status === 401) {
    drain(resp);
    await idb.setMeta("needLogin", true);
  } else if ([400, 413, 415, 422].includes(resp.status)) {
    const problem = await resp.json().catch(() => null);
    await idb.put("outbox", { ...op, status: "rejected", problem });
  } else {
    await backoff([op], `HTTP ${drain(resp).status}`);
  }
  broadcast({ type: "outbox" });
}

/* Pull pages until the server says there is no more; restart from scratch on a new epoch. */
export async function pull() {
  let cursor = await idb.meta("cursor");
  let epoch = await idb.meta("epoch");
  for (let page = 0; page < 10000; page++) {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (cursor) q.set("cursor", cursor);
    if (cursor && epoch) q.set("epoch", epoch);
    const resp = await fetch("/api/v1/sync?" + q, { credentials: "same-origin", cache: "no-store" });
    if (resp.status === 401) {
      drain(resp);
      await idb.setMeta("needLogin", true);
      return;
    }
    if (!resp.ok) throw new Error(`pull: HTTP ${drain(resp).status}`);
    const body = await resp.json();
    if (body.resync) {
      await resetRows();
      cursor = epoch = null;
      continue;
    }
    await idb.applyPage(body, { cursor: body.cursor, epoch: body.epoch });
    cursor = body.cursor;
    epoch = body.epoch;
    broadcast({ type: "pulled" });
    if (!body.more) return;
  }
}

/* Drop every synced row (the scope changed or the user left) but keep what the outbox will
   still create, so the worker's own unsent records stay visible. */
export async function resetRows() {
  await idb.clearRows();
  const ops = await idb.outbox();
  await idb.tx("rows", "readwrite", (s) => {
    for (const op of ops) {
      if (op.local) s.rows.put({ entity: op.local.entity, id: String(op.local.data.id), data: { ...op.local.data, _pending: true } });
    }
  });
}

/* Conflict resolution: send my change again on top of the server's version, or drop it. */
export async function resolveConflict(opId, keepMine) {
  const op = await idb.get("outbox", opId);
  if (!op) return;
  await idb.tx(["outbox", "rows"], "readwrite", (s) => {
    s.outbox.delete(opId);
    if (op.current && op.local) {
      s.rows.put({ entity: op.local.entity, id: String(op.current.id), data: op.current });
    }
    if (keepMine && op.current) {
      s.outbox.put({
        ...op,
        op_id: uuid(),
        base_version: op.current.version,
        status: "pending",
        attempts: 0,
        next_try: 0,
        current: undefined,
        problem: undefined,
      });
    }
  });
  broadcast({ type: "outbox" });
}

export async function discard(opId) {
  const op = await idb.get("outbox", opId);
  await idb.tx(["outbox", "rows", "blobs"], "readwrite", (s) => {
    s.outbox.delete(opId);
    if (op?.type === "photo.upload") s.blobs.delete(op.payload.id);
    if (op?.local?.create) s.rows.delete([op.local.entity, String(op.local.data.id)]);
    else if (op?.local?.prev) s.rows.put({ entity: op.local.entity, id: String(op.local.prev.id), data: op.local.prev });
  });
  broadcast({ type: "outbox" });
}
