/* IndexedDB, promise-shaped. Works in the page and in the service worker.
   Stores: rows (synced records, key [entity, id]), outbox (operations waiting to upload),
   blobs (photos waiting to upload), meta (cursor, epoch, user, last sync). */
const NAME = "gridapp";
const VERSION = 1;
let opening = null;

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

export function open() {
  if (opening) return opening;
  opening = new Promise((resolve, reject) => {
    const r = indexedDB.open(NAME, VERSION);
    r.onupgradeneeded = () => {
      const db = r.result;
      const rows = db.createObjectStore("rows", { keyPath: ["entity", "id"] });
      rows.createIndex("entity", "entity");
      const outbox = db.createObjectStore("outbox", { keyPath: "op_id" });
      outbox.createIndex("seq", "seq");
      db.createObjectStore("blobs", { keyPath: "id" });
      db.createObjectStore("meta", { keyPath: "k" });
    };
    r.onsuccess = () => {
      const db = r.result;
      db.onversionchange = () => db.close();
      resolve(db);
    };
    r.onerror = () => reject(r.error);
  });
  return opening;
}

/* Run ``fn(stores)`` in one transaction; resolves with fn's result when the transaction commits. */
export async function tx(names, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(names, mode);
    const stores = Object.fromEntries([].concat(names).map((n) => [n, t.objectStore(n)]));
    let out;
    Promise.resolve(fn(stores, t)).then((v) => (out = v), reject);
    t.oncomplete = () => resolve(out);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error("transaction aborted"));
  });
}

export const get = (store, key) => tx(store, "readonly", (s) => req(s[store].get(key)));
export const put = (store, value) => tx(store, "readwrite", (s) => req(s[store].put(value)));
export const del = (store, key) => tx(store, "readwrite", (s) => req(s[store].delete(key)));
export const all = (store) => tx(store, "readonly", (s) => req(s[store].getAll()));

export async function meta(key, fallback = null) {
  const row = await get("meta", key);
  return row ? row.v : fallback;
}
export const setMeta = (key, v) => put("meta", { k: key, v });

/* Every synced record of one entity, as its data objects. */
export async function rows(entity) {
  const found = await tx("rows", "readonly", (s) =>
    req(s.rows.index("entity").getAll(IDBKeyRange.only(entity))),
  );
  return found.map((r) => r.data);
}

export async function row(entity, id) {
  const found = await get("rows", [entity, String(id)]);
  return found ? found.data : null;
}

export const putRow = (entity, data) =>
  put("rows", { entity, id: String(data.id), data });

/* Apply one pull page atomically: rows replace, tombstones delete, then the cursor moves. */
export function applyPage(page, extraMeta) {
  return tx(["rows", "meta"], "readwrite", (s) => {
    for (const r of page.rows) s.rows.put({ entity: r.entity, id: r.id, data: r.data });
    for (const t of page.tombstones) s.rows.delete([t.entity, t.id]);
    for (const [k, v] of Object.entries(extraMeta)) s.meta.put({ k, v });
  });
}

export function clearRows() {
  return tx(["rows", "meta"], "readwrite", (s) => {
    s.rows.clear();
    s.meta.delete("cursor");
    s.meta.delete("epoch");
  });
}

export async function outbox() {
  const ops = await tx("outbox", "readonly", (s) => req(s.outbox.index("seq").getAll()));
  return ops;
}
