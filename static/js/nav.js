/* Page furniture for small screens (CSS in app.css, "Phones and keyboards"). Loaded in <head> so
   the "js" class is set before the page paints.
   - The navigation folds behind a Menu button below 760 px; without JavaScript the links simply
     wrap and stay visible.
   - Every table.table gets a scroll box of its own, so a table wider than the screen scrolls
     inside it instead of widening the page, while tables that fit still span the full width.
     Without JavaScript, narrow screens fall back to scrolling the table element itself. */
(function () {
  document.documentElement.classList.add("js");

  function initMenu() {
    var toggle = document.querySelector("[data-nav-toggle]");
    if (!toggle) { return; }
    var bar = toggle.closest(".topbar");
    function setOpen(open) {
      bar.classList.toggle("is-open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
    toggle.addEventListener("click", function () { setOpen(!bar.classList.contains("is-open")); });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && bar.classList.contains("is-open")) {
        setOpen(false);
        toggle.focus();
      }
    });
  }

  function boxTables() {
    document.querySelectorAll("table.table").forEach(function (table) {
      var parent = table.parentElement;
      if (!parent || parent.closest(".table-box, .table-scroll")) { return; }
      var box = document.createElement("div");
      box.className = "table-box";
      parent.insertBefore(box, table);
      box.appendChild(table);
    });
  }

  function init() {
    initMenu();
    boxTables();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
