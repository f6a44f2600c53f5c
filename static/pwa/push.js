/* Web Push subscription for this phone, with the server's VAPID key. */
import { drain } from "./http.js";

export const PUSH_KEY_URL = "/api/v1/push/key";
export const PUSH_SUBSCRIBE_URL = "/api/v1/push/subscriptions";

export function b64urlToBytes(s) {
  const pad = "=".repeat((4 - (s.length % 4)) % 4);
  const bin = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

export const supported = () => "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

export async function current() {
  if (!supported()) return null;
  const reg = await navigator.serviceWorker.ready;
  return reg.pushManager.getSubscription();
}

export async function subscribe(csrf) {
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error(permission);
  const keyResp = await fetch(PUSH_KEY_URL, { credentials: "same-origin" });
  if (!keyResp.ok) throw new Error(`key: HTTP ${drain(keyResp).status}`);
  const body = await keyResp.json();
  const key = body.public_key || body.key || body.applicationServerKey;
  const reg = await navigator.serviceWorker.ready;
  const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64urlToBytes(key) });
  const resp = await fetch(PUSH_SUBSCRIBE_URL, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    body: JSON.stringify(sub.toJSON()),
  }).then(drain);
  if (!resp.ok) throw new Error(`subscribe: HTTP ${resp.status}`);
  return sub;
}

export async function unsubscribe(csrf) {
  const sub = await current();
  if (!sub) return;
  await fetch(PUSH_SUBSCRIBE_URL, {
    method: "DELETE",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    body: JSON.stringify({ endpoint: sub.endpoint }),
  })
    .then(drain)
    .catch(() => {});
  await sub.unsubscribe();
}

export function sameKey(a, b) {
  if (!a || !b) return false;
  const x = new Uint8Array(a);
  return x.length === b.length && x.every((v, i) => v === b[i]);
}

/* On app open: keep this phone's subscription registered under the logged-in user, and
   re-subscribe when the server rotated its VAPID key (the old subscription would not work). */
export async function ensure(csrf) {
  const sub = await current();
  if (!sub || Notification.permission !== "granted") return;
  const body = await (await fetch(PUSH_KEY_URL, { credentials: "same-origin" })).json();
  const key = b64urlToBytes(body.public_key || body.key || body.applicationServerKey);
  if (!sameKey(sub.options.applicationServerKey, key)) {
    await sub.unsubscribe();
    await subscribe(csrf);
    return;
  }
  drain(
    await fetch(PUSH_SUBSCRIBE_URL, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(sub.toJSON()),
    }),
  );
}
