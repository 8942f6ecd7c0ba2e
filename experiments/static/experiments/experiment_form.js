/* The experiment form: repeatable rows (metrics, lessons, next steps) and the searchable
   "lessons applied" picker. Without JavaScript the form still works: it shows one row of
   each kind and the most recent lessons. */
(function () {
  "use strict";

  function setupFormset(container) {
    var prefix = container.dataset.formset;
    var total = container.querySelector("input[name='" + prefix + "-TOTAL_FORMS']");
    var rows = container.querySelector("[data-rows]");
    var template = container.querySelector("template[data-empty-row]");
    container.querySelector("[data-add-row]").addEventListener("click", function () {
      var index = parseInt(total.value, 10);
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      rows.insertAdjacentHTML("beforeend", html);
      total.value = String(index + 1);
      var added = rows.lastElementChild;
      var first = added && added.querySelector("input:not([type=hidden]), textarea");
      if (first) { first.focus(); }
    });
    container.addEventListener("click", function (event) {
      var button = event.target.closest("[data-remove-row]");
      if (!button) { return; }
      // Emptied rows are ignored by the server, so removing is clearing and hiding.
      var row = button.closest("[data-row]");
      row.querySelectorAll("input, textarea, select").forEach(function (input) {
        if (input.type !== "hidden" || /-id$/.test(input.name)) { input.value = ""; }
      });
      row.hidden = true;
    });
  }

  function setupPicker(picker) {
    var search = picker.querySelector("[data-picker-search]");
    var list = picker.querySelector("[data-picker-options]");
    var url = picker.dataset.pickerUrl;
    var timer = null;
    var fieldName = "applied_lessons";

    function known(id) { return list.querySelector("input[value='" + id + "']"); }

    function addOption(lesson) {
      if (known(lesson.id)) { return; }
      var item = document.createElement("li");
      item.setAttribute("data-picker-option", "");
      var label = document.createElement("label");
      var box = document.createElement("input");
      box.type = "checkbox"; box.name = fieldName; box.value = lesson.id;
      var text = document.createElement("span");
      text.className = "picker-text"; text.textContent = lesson.text;
      var meta = document.createElement("span");
      meta.className = "muted small";
      meta.textContent = lesson.team + " · " + lesson.source + " · " + lesson.documented_at;
      label.append(box, " ", text, " ", meta);
      item.appendChild(label);
      list.appendChild(item);
    }

    function filterLocal(query) {
      var words = query.toLowerCase().split(/\s+/).filter(Boolean);
      list.querySelectorAll("[data-picker-option]").forEach(function (item) {
        var box = item.querySelector("input");
        var haystack = item.textContent.toLowerCase();
        var match = words.every(function (word) { return haystack.indexOf(word) !== -1; });
        item.hidden = !(match || box.checked);
      });
    }

    search.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); }
    });
    search.addEventListener("input", function () {
      var query = search.value.trim();
      filterLocal(query);
      clearTimeout(timer);
      if (!query) { return; }
      timer = setTimeout(function () {
        var sep = url.indexOf("?") === -1 ? "?" : "&";
        fetch(url + sep + "q=" + encodeURIComponent(query), { headers: { "Accept": "application/json" } })
          .then(function (response) { return response.ok ? response.json() : { results: [] }; })
          .then(function (data) {
            var empty = list.querySelector("[data-picker-empty]");
            if (empty && data.results.length) { empty.remove(); }
            data.results.forEach(addOption);
            filterLocal(search.value.trim());
          })
          .catch(function () { /* the local filter still works */ });
      }, 250);
    });
  }

  function init() {
    document.querySelectorAll("[data-formset]").forEach(setupFormset);
    document.querySelectorAll("[data-picker-url]").forEach(setupPicker);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
