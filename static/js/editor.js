// The version editor: categories' principle lists fold and stay folded (per user, in
// this browser's localStorage) across reloads and htmx swaps of the editor.
(function () {
  "use strict";
  var who = (document.querySelector(".logout .muted") || {}).textContent || "anonymous";
  var storeKey = "cai-editor-folded:" + who;

  function load() {
    try { return JSON.parse(localStorage.getItem(storeKey) || "{}"); } catch (e) { return {}; }
  }
  function save(folded) {
    try { localStorage.setItem(storeKey, JSON.stringify(folded)); } catch (e) { /* private mode */ }
  }

  function apply() {
    var folded = load();
    document.querySelectorAll("details[data-collapse-key]").forEach(function (d) {
      if (folded[d.dataset.collapseKey]) d.open = false;
      if (d.dataset.bound) return;
      d.dataset.bound = "1";
      d.addEventListener("toggle", function () {
        var f = load();
        if (d.open) delete f[d.dataset.collapseKey]; else f[d.dataset.collapseKey] = 1;
        save(f);
      });
    });
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-collapse-all]");
    if (!button) return;
    var open = button.dataset.collapseAll === "open";
    document.querySelectorAll("details[data-collapse-key]").forEach(function (d) { d.open = open; });
  });
  document.addEventListener("DOMContentLoaded", apply);
  document.addEventListener("htmx:afterSettle", apply);
})();
