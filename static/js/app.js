// Small page behaviours every page shares (loaded by templates/base.html):
//   - <time data-relative> ("3 minutes ago", from the training_tags reltime tag) ticks
//     every second, and its title gets the viewer's local time with its zone;
//   - <time data-local> (a point in time, the times abstime tag) reads in the viewer's
//     local time with its zone, UTC kept as its title;
//   - [data-countdown] (an ETA in seconds) counts down between polls;
//   - a banner shows when htmx requests fail (the server stopped answering) and goes
//     once one succeeds again;
//   - <form data-confirm="..."> asks before it submits.
(function () {
  "use strict";

  function ago(seconds) {
    var s = Math.round(Math.abs(seconds)), unit;
    if (s < 5) return seconds >= 0 ? "just now" : "in a moment";
    if (s < 60) unit = s + " seconds";
    else if (s < 3600) unit = Math.floor(s / 60) + " minute" + (Math.floor(s / 60) === 1 ? "" : "s");
    else if (s < 86400) unit = Math.floor(s / 3600) + " hour" + (Math.floor(s / 3600) === 1 ? "" : "s");
    else unit = Math.floor(s / 86400) + " day" + (Math.floor(s / 86400) === 1 ? "" : "s");
    return seconds >= 0 ? unit + " ago" : "in " + unit;
  }

  function duration(s) {
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  var zone = (Intl.DateTimeFormat().resolvedOptions().timeZone) || "local time";

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-relative]").forEach(function (t) {
      var when = Date.parse(t.getAttribute("datetime"));
      if (isNaN(when)) return;
      t.textContent = ago((now - when) / 1000);
      if (!t.dataset.zoned) {
        var utc = t.getAttribute("title") || "";
        t.title = new Date(when).toLocaleString() + " (" + zone + ") · " + utc;
        t.dataset.zoned = "1";
      }
    });
    document.querySelectorAll("time[data-local]").forEach(function (t) {
      if (t.dataset.zoned) return;
      var when = Date.parse(t.getAttribute("datetime"));
      if (isNaN(when)) return;
      t.textContent = new Date(when).toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
        timeZoneName: "short"
      });
      t.dataset.zoned = "1";
    });
    document.querySelectorAll("[data-countdown]").forEach(function (c) {
      if (!c.dataset.t0) c.dataset.t0 = String(now);
      var left = parseFloat(c.dataset.countdown) - (now - parseFloat(c.dataset.t0)) / 1000;
      c.textContent = left > 0 ? duration(left) : "any moment (overdue)";
    });
  }

  function banner() { return document.getElementById("offline-banner"); }
  var failingSince = null;

  function failed() {
    var b = banner();
    if (!b) return;
    if (failingSince === null) failingSince = new Date();
    b.querySelector(".since").textContent = failingSince.toLocaleTimeString();
    b.hidden = false;
  }

  document.addEventListener("htmx:sendError", failed);
  document.addEventListener("htmx:timeout", failed);
  document.addEventListener("htmx:responseError", function (e) {
    if (e.detail.xhr && e.detail.xhr.status >= 500) failed();
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.successful) {
      failingSince = null;
      var b = banner();
      if (b) b.hidden = true;
    }
  });
  // <form data-confirm="question">: asks before a plain (non-htmx) submit; the CSP
  // allows no inline onsubmit handler. htmx forms use hx-confirm instead.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      e.preventDefault();
    }
  }, true);
  // <a data-back href="/">: back to the previous page (no javascript: URL under the CSP).
  document.addEventListener("click", function (e) {
    var link = e.target instanceof Element && e.target.closest("a[data-back]");
    if (link && window.history.length > 1) {
      e.preventDefault();
      window.history.back();
    }
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) window.htmx.config.timeout = 15000;
    tick();
    setInterval(tick, 1000);
  });
  window.caiApp = { ago: ago, duration: duration };
})();
