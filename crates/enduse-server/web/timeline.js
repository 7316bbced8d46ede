// The timeline page: a click on a row of the picture opens its rule below
// and marks it; links work without this script.
"use strict";
(function () {
  const view = document.getElementById("timeline");
  if (!view) return;
  view.addEventListener("click", (ev) => {
    const a = ev.target.closest("a[data-rule]");
    if (!a) return;
    ev.preventDefault();
    const id = a.getAttribute("data-rule");
    document.querySelectorAll(".entry.selected").forEach((e) => e.classList.remove("selected"));
    const e = document.getElementById("rule-" + id);
    if (!e) return;
    e.classList.add("selected");
    e.scrollIntoView({ block: "center" });
    e.focus({ preventScroll: true });
    history.replaceState(null, "", "#rule-" + id);
  });
})();
