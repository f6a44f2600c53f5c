/* A public page's "notify me" button (the tracking page /t/, the community news /n/): subscribes
   this browser to Web Push through that page family's own service worker, whose directory is
   its scope, and tells the server which thing it follows (``box.dataset.url``). Hidden without
   PushManager. The endpoint is remembered per followed thing, so the button knows its state
   after a reload; the browser's subscription itself is shared and never dropped on unfollow
   (it may follow other things). */
import { b64urlToBytes, sameKey } from "/static/pwa/push.js";
import { drain } from "/static/pwa/http.js";

const KEY_URL = "/api/v1/push/key";

const supported = () =>
  "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

/* ``ids``: the on / off buttons and the status line inside ``box``; ``storageKey``: what this
   page follows; ``label``: for the console. */
export function followButton(box, { ids, storageKey, label }) {
  if (!box || !supported()) return;
  const scope = new URL("./", new URL(box.dataset.sw, location.href)).pathname;
  const $ = (id) => box.querySelector(`#${id}`);

  const remembered = () => {
    try {
      return localStorage.getItem(storageKey);
    } catch {
      return null;
    }
  };
  const remember = (endpoint) => {
    try {
      if (endpoint) localStorage.setItem(storageKey, endpoint);
      else localStorage.removeItem(storageKey);
    } catch {
      /* private mode: the button just forgets */
    }
  };
  const show = (following, message) => {
    $(ids.on).hidden = following;
    $(ids.off).hidden = !following;
    $(ids.status).textContent = message || "";
    box.dataset.following = following ? "1" : "";
  };

  async function activeRegistration() {
    const reg = await navigator.serviceWorker.register(box.dataset.sw, { scope });
    if (reg.active) return reg;
    const worker = reg.installing || reg.waiting;
    await new Promise((resolve) => {
      worker.addEventListener("statechange", () => worker.state === "activated" && resolve());
    });
    return reg;
  }

  async function send(method, body) {
    const resp = await fetch(box.dataset.url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": box.dataset.csrf },
      body: JSON.stringify(body),
    });
    if (!drain(resp).ok) throw new Error(`${method}: HTTP ${resp.status}`);
  }

  async function follow() {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") return show(false, box.dataset.msgBlocked);
    const reg = await activeRegistration();
    const key = b64urlToBytes((await (await fetch(KEY_URL)).json()).key);
    let sub = await reg.pushManager.getSubscription();
    if (sub && !sameKey(sub.options.applicationServerKey, key)) {
      await sub.unsubscribe(); // the server's key was rotated: the old subscription is dead
      sub = null;
    }
    sub = sub || (await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
    await send("POST", sub.toJSON());
    remember(sub.endpoint);
    show(true, box.dataset.msgOn);
  }

  async function unfollow() {
    const endpoint = remembered();
    if (endpoint) await send("DELETE", { endpoint });
    remember(null);
    show(false, box.dataset.msgOff);
  }

  const guarded = (action) => async () => {
    box.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      await action();
    } catch (err) {
      console.warn(`${label} push:`, err);
      $(ids.status).textContent = box.dataset.msgFailed;
    } finally {
      box.querySelectorAll("button").forEach((b) => (b.disabled = false));
    }
  };

  box.hidden = false;
  $(ids.on).addEventListener("click", guarded(follow));
  $(ids.off).addEventListener("click", guarded(unfollow));
  // getRegistration() may answer with a wider scope (the worker app's "/"): only ours counts.
  navigator.serviceWorker.getRegistration(scope).then(async (found) => {
    const reg = found && new URL(found.scope).pathname === scope ? found : null;
    const sub = reg && (await reg.pushManager.getSubscription());
    show(Boolean(sub && remembered() === sub.endpoint && Notification.permission === "granted"));
  });
}
