/* Review screen keyboard shortcuts. No framework; works with or without htmx,
   because every key just clicks a real button or link of the current item. */
(function () {
  "use strict";
  var CHOICE_KEYS = { "1": true, "2": true, "3": true, "4": true };

  function item() { return document.getElementById("review-item"); }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && target.type !== "checkbox");
  }

  function toggleHelp() {
    var help = document.getElementById("review-help");
    if (help) help.hidden = !help.hidden;
  }

  document.addEventListener("keydown", function (event) {
    var root = item();
    if (!root || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var key = event.key;
    if (CHOICE_KEYS[key]) {
      var button = root.querySelector('#review-form button[data-key="' + key + '"]');
      if (button && !button.form.dataset.sent) {
        event.preventDefault();
        button.form.dataset.sent = "1"; // one submit per item; the server is idempotent anyway
        button.click();
      }
    } else if (key === "f") {
      var flags = root.querySelector("#flags");
      if (flags) {
        event.preventDefault();
        flags.open = !flags.open;
        if (flags.open) { var first = flags.querySelector("input"); if (first) first.focus(); }
      }
    } else if (key === "n") {
      var next = root.querySelector("#next-link");
      if (next) { event.preventDefault(); next.click(); }
    } else if (key === "?") {
      event.preventDefault();
      toggleHelp();
    }
  });

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var blurred = target.closest(".blurred");
    if (blurred) { blurred.classList.remove("blurred"); return; }
    if (target.closest('[data-action="help"]')) toggleHelp();
  });

  // After htmx swaps in the next item, move focus off the old (removed) element.
  document.addEventListener("htmx:afterSwap", function () {
    var root = item();
    if (root && document.activeElement && !document.body.contains(document.activeElement)) {
      document.body.focus();
    }
    if (root) window.scrollTo(0, 0);
  });
})();
