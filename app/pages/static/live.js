// The pages' only script: live updates and countdowns. No library, no build step.
// Without it every page still works: it is all rendered on the server (and then does not
// claim to update live: "Updates live" is shown by this script, once the stream is open).
"use strict";

function countdownText(ms) {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const pad = (n) => String(n).padStart(2, "0");
  const hms = `${pad(Math.floor((s % 86400) / 3600))}:${pad(Math.floor((s % 3600) / 60))}:${pad(s % 60)}`;
  return d > 0 ? `${d} d ${hms}` : hms;
}

function tickCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll("[data-countdown]")) {
    const left = Date.parse(el.dataset.countdown) - now;
    el.textContent = left > 0 ? `(in ${countdownText(left)})` : "(now: refreshing)";
    if (left <= 0 && !el.dataset.refreshed) {
      el.dataset.refreshed = "1";
      refresh();
    }
  }
}

// What the server sent for each redrawable part, before this script marked anything in it:
// a part is redrawn only when the server's new version differs from that.
const served = new WeakMap();

function record(root) {
  for (const part of root.querySelectorAll("[data-part]")) served.set(part, part.outerHTML);
}

function label(part) {
  const heading = part.querySelector("h2");
  return (heading ? heading.textContent : part.dataset.part).trim();
}

// Swap in the parts of a fresh render that changed, mark them and the timeline entries not
// seen before; returns the names of what changed.
function redraw(fresh) {
  const old = [...document.querySelectorAll("main [data-part]")];
  const byKey = new Map(old.map((el) => [el.dataset.part, el]));
  const seen = new Set([...document.querySelectorAll("[data-position]")].map((el) => el.dataset.position));
  const next = [...fresh.querySelectorAll("main [data-part]")];
  const changed = next.filter((el) => {
    const before = byKey.get(el.dataset.part);
    return !before || served.get(before) !== el.outerHTML;
  });
  const sameLayout = old.length === next.length && old.every((el, i) => el.dataset.part === next[i].dataset.part);
  if (!changed.length && sameLayout) return [];
  const html = new Map(next.map((el) => [el, el.outerHTML]));
  for (const entry of fresh.querySelectorAll("[data-position]")) {
    if (!seen.has(entry.dataset.position)) entry.classList.add("new");
  }
  for (const el of changed) el.classList.add("fresh");
  if (sameLayout) {
    for (const el of changed) byKey.get(el.dataset.part).replaceWith(el);
  } else {
    // Parts came, went or moved (the list's order follows the latest change): the main part
    // is replaced whole, the unchanged parts with it, unmarked.
    const open = new Set([...document.querySelectorAll("main details[open]")].map((d) => d.id));
    document.querySelector("main").replaceChildren(...fresh.querySelector("main").childNodes);
    for (const id of open) document.getElementById(id)?.setAttribute("open", "");
  }
  for (const [el, text] of html) served.set(el, text);
  return changed.map(label);
}

let refreshing = null;
let again = false;

// Fetch this same page again (revalidated with its ETag) and redraw what changed in place:
// no reload, focus and scroll kept.
async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = (async () => {
    do {
      again = false;
      const response = await fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-cache" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const changed = redraw(fresh);
      if (changed.length) {
        document.getElementById("announce").textContent = `Updated: ${changed.join(", ")}.`;
        document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
      }
    } while (again);
  })();
  try { await refreshing; } finally { refreshing = null; }
}

let stream = null;

function follow(url) {
  stream = new EventSource(url);
  const live = document.getElementById("live");
  stream.onopen = () => { if (live) { live.hidden = false; live.dataset.state = "open"; } };
  stream.onerror = () => { if (live) live.dataset.state = "reconnecting"; };
  // The stream carries only the events of the conflicts on screen (its own filter); each
  // message is named by its event type, and the page lists every type the service has.
  const types = (document.body.dataset.types || "").split(" ").filter(Boolean);
  const received = () => {
    document.body.dataset.events = String(Number(document.body.dataset.events || 0) + 1);
    refresh();
  };
  for (const type of [...types, "message"]) stream.addEventListener(type, received);
}

document.addEventListener("DOMContentLoaded", () => {
  record(document);
  const url = document.body.dataset.stream;
  if (!url) return;
  follow(url);
  tickCountdowns();
  setInterval(tickCountdowns, 1000);
  // A page left for another may be kept (the back/forward cache) with its stream open: each
  // holds one of the few connections a browser opens to a host. Closed when left, and when
  // shown again the page is fetched afresh and followed from where it now stands.
  window.addEventListener("pagehide", () => { stream?.close(); stream = null; });
  window.addEventListener("pageshow", (shown) => { if (shown.persisted) location.reload(); });
});
