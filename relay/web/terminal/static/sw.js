// The service worker: the app shell from its cache first (the app opens with no network);
// the API is never cached here (the app keeps its own data in IndexedDB).
const VERSION = "__VERSION__";
const ASSETS = ["__ASSETS__"];
const CACHE = `relay-terminal-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("relay-terminal-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!url.pathname.startsWith("/t/") || url.pathname === "/t/sw.js") return;
  const key = event.request.mode === "navigate" ? "/t/" : url.pathname;
  event.respondWith(
    caches.open(CACHE).then((cache) =>
      cache.match(key).then((hit) => hit || fetch(event.request)),
    ),
  );
});
