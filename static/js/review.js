/* Review screen keyboard shortcuts. No framework; works with or without htmx,
   because every key just clicks or toggles a real control of the current item:
     1-4 choose (the panel's submit buttons), h / m / w toggle the flag checkboxes,
     c opens the note, r reveals answers blurred as harmful, n next (or skip),
     ? opens the help dialog (a modal <dialog>, so it sits in the viewport). */
(function () {
  "use strict";
  var CHOICE_KEYS = { "1": true, "2": true, "3": true, "4": true };

  function item() { return document.getElementById("review-item"); }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && target.type !== "checkbox");
  }

  function helpDialog() { return document.getElementById("review-help"); }

  function toggleHelp() {
    var help = helpDialog();
    if (!help) return;
    if (help.open) help.close();
    else if (typeof help.showModal === "function") help.showModal();
    else help.setAttribute("open", "");
  }

  function reveal(root) {
    root.querySelectorAll(".answer-text.blurred").forEach(function (el) { el.classList.remove("blurred"); });
  }

  document.addEventListener("keydown", function (event) {
    var root = item();
    if (!root || event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key;
    if (typing(event.target)) {
      if (key === "Escape") { event.preventDefault(); event.target.blur(); }
      return;
    }
    var help = helpDialog();
    if (help && help.open) {
      // While the help is open only ? (and the dialog's own Esc) do anything.
      if (key === "?") { event.preventDefault(); toggleHelp(); }
      return;
    }
    if (CHOICE_KEYS[key]) {
      var button = root.querySelector('#review-form button[data-key="' + key + '"]');
      if (button && !button.form.dataset.sent) {
        event.preventDefault();
        button.form.dataset.sent = "1"; // one submit per item; the server is idempotent anyway
        button.click();
      }
    } else if (key === "h" || key === "m" || key === "w") {
      var box = root.querySelector('#flags [data-flag-key="' + key + '"] input[type=checkbox]');
      if (box) { event.preventDefault(); box.checked = !box.checked; }
    } else if (key === "c") {
      var note = root.querySelector("#note-box");
      if (note) {
        event.preventDefault();
        note.open = true;
        var area = note.querySelector("textarea");
        if (area) area.focus();
      }
    } else if (key === "r") {
      event.preventDefault();
      reveal(root);
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
    if (target.closest('[data-action="help"]')) { toggleHelp(); return; }
    if (target.closest('[data-action="reveal"]')) { var root = item(); if (root) reveal(root); }
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
