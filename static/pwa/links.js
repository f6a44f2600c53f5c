/* Server links in notifications (/tasks/12, /matters/7, …) → the app's screens. */
const ROUTES = [
  [/^\/(?:app#\/)?tasks?\/(\d+)/, (m) => `#/task/${m[1]}`],
  [/^\/(?:app#\/)?matters?\/(\d+)/, (m) => `#/matter/${m[1]}`],
  [/^\/(?:app#\/)?households?\/(\d+)/, (m) => `#/household/${m[1]}`],
];

export function appUrl(link) {
  if (link && link.startsWith("/app#/")) return link;
  const path = link ? new URL(link, "http://x").pathname : "";
  for (const [re, to] of ROUTES) {
    const m = path.match(re);
    if (m) return "/app" + to(m);
  }
  return "/app#/inbox";
}
