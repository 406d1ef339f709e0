// The status page's only script: live updates and countdowns. No library, no build step.
// Without it the page still works: it is all rendered on the server.
"use strict";

function countdownText(ms) {
  if (ms <= 0) return "ended";
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
    el.textContent = left > 0 ? `(in ${countdownText(left)})` : "(ended: refreshing)";
    if (left <= 0 && !el.dataset.refreshed) {
      el.dataset.refreshed = "1";
      refresh("An agreement reached its end.");
    }
  }
}

let refreshing = null;
let again = false;

// Fetch this same page again and swap its main part in place: no reload, focus kept.
async function refresh(why) {
  if (refreshing) { again = true; return; }
  refreshing = (async () => {
    do {
      again = false;
      const response = await fetch(location.href, { headers: { Accept: "text/html" } });
      if (!response.ok) return;
      const html = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = html.querySelector("main");
      const open = new Set([...document.querySelectorAll("details[open]")].map((d) => d.closest("article")?.id));
      document.querySelector("main").replaceChildren(...fresh.childNodes);
      for (const id of open) document.querySelector(`#${CSS.escape(id)} details`)?.setAttribute("open", "");
      document.getElementById("moment").replaceWith(html.getElementById("moment"));
      document.getElementById("announce").textContent = why;
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    } while (again);
  })();
  try { await refreshing; } finally { refreshing = null; }
}

function follow(url) {
  const stream = new EventSource(url);
  const live = () => document.getElementById("live");
  stream.onopen = () => { const el = live(); if (el) el.dataset.state = "open"; };
  stream.onerror = () => { const el = live(); if (el) el.dataset.state = "reconnecting"; };
  // Every message names its event type; one listener per type we show.
  for (const type of ["agreement.signed", "agreement.collapsed", "agreement.extended",
                      "ceasefire.declared", "violation.alleged", "allegation.retracted",
                      "allegation.denied", "event.corrected", "mission.dispatched",
                      "mission.ended", "milestone.extended", "milestone.met",
                      "agreement.repudiated", "talks.suspended", "talks.resumed", "message"]) {
    stream.addEventListener(type, () => refresh(`New event: ${type}.`));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.dataset.stream) follow(document.body.dataset.stream);
  if (document.body.dataset.stream) { tickCountdowns(); setInterval(tickCountdowns, 1000); }
});
