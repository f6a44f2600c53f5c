/* The news page's "notify me" button: subscribes this browser to Web Push for one community's
   news through the news pages' own service worker (scope /n/). Hidden without PushManager. */
import { b64urlToBytes, sameKey } from "/static/pwa/push.js";

const box = document.getElementById("news-push");
const KEY_URL = "/api/v1/push/key";
const SCOPE = box && new URL("./", new URL(box.dataset.sw, location.href)).pathname;

const supported = () =>
  "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

const storageKey = () => `news-push:${box.dataset.token}`;

function remembered() {
  try {
    return localStorage.getItem(storageKey());
  } catch {
    return null;
  }
}

function remember(endpoint) {
  try {
    if (endpoint) localStorage.setItem(storageKey(), endpoint);
    else localStorage.removeItem(storageKey());
  } catch {
    /* private mode: the button just forgets */
  }
}

function show(following, message) {
  box.querySelector("#news-push-on").hidden = following;
  box.querySelector("#news-push-off").hidden = !following;
  box.querySelector("#news-push-status").textContent = message || "";
  box.dataset.following = following ? "1" : "";
}

async function activeRegistration() {
  const reg = await navigator.serviceWorker.register(box.dataset.sw, { scope: SCOPE });
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
  if (!resp.ok) throw new Error(`${method}: HTTP ${resp.status}`);
}

async function follow() {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {
    show(false, box.dataset.msgBlocked);
    return;
  }
  const reg = await activeRegistration();
  const key = b64urlToBytes((await (await fetch(KEY_URL)).json()).key);
  let sub = await reg.pushManager.getSubscription();
  if (sub && !sameKey(sub.options.applicationServerKey, key)) {
    await sub.unsubscribe();
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

function guarded(action) {
  return async () => {
    box.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      await action();
    } catch (err) {
      console.warn("news push:", err);
      box.querySelector("#news-push-status").textContent = box.dataset.msgFailed;
    } finally {
      box.querySelectorAll("button").forEach((b) => (b.disabled = false));
    }
  };
}

async function init() {
  if (!box || !supported()) return;
  box.hidden = false;
  box.querySelector("#news-push-on").addEventListener("click", guarded(follow));
  box.querySelector("#news-push-off").addEventListener("click", guarded(unfollow));
  const found = await navigator.serviceWorker.getRegistration(SCOPE);
  const reg = found && new URL(found.scope).pathname === SCOPE ? found : null;
  const sub = reg && (await reg.pushManager.getSubscription());
  show(Boolean(sub && remembered() === sub.endpoint && Notification.permission === "granted"));
}

init();
