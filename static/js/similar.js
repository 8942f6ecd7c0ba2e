/* "Have we tried this before?": while a person types a title, hypothesis or what happened, a
   [data-similar] panel fetches (debounced) the closest earlier records from its data-url, an HTML
   fragment rendered by the search app. Its buttons fill the form: data-similar-fill="<field>"
   chooses that record in the form's type-ahead picker (static/js/picker.js), data-similar-lesson
   ticks the lesson in the "lessons applied" picker. Without JavaScript the form is unchanged. */
(function () {
  "use strict";
  var DELAY = 400;
  var MIN_LENGTH = 3;
  var MAX_FIELD_LENGTH = 2000;

  function setup(panel) {
    var form = panel.closest("form");
    if (!form) { return; }
    var fields = panel.dataset.fields.split(/\s+/).map(function (name) {
      return form.querySelector("[name='" + name + "']");
    }).filter(Boolean);
    var teamField = panel.dataset.teamField ? form.querySelector("[name='" + panel.dataset.teamField + "']") : null;
    var timer = null;
    var last = null;
    var controller = null;

    function teamId() {
      if (teamField && teamField.value) { return teamField.value; }
      return form.dataset.teamId || "";
    }

    function params() {
      var query = new URLSearchParams();
      query.set("kind", panel.dataset.kind);
      if (teamId()) { query.set("team_id", teamId()); }
      if (panel.dataset.exclude) { query.set("exclude", panel.dataset.exclude); }
      fields.forEach(function (field) {
        var text = field.value.trim();
        if (text) { query.set(field.name, text.slice(0, MAX_FIELD_LENGTH)); }
      });
      return query.toString();
    }

    function refresh() {
      var enough = fields.some(function (field) { return field.value.trim().length >= MIN_LENGTH; });
      if (!enough) {
        panel.hidden = true;
        panel.textContent = "";
        last = null;
        return;
      }
      var query = params();
      if (query === last) { return; }
      last = query;
      if (controller) { controller.abort(); }
      controller = new AbortController();
      panel.setAttribute("aria-busy", "true");
      fetch(panel.dataset.url + "?" + query, {
        headers: { "Accept": "text/html" }, credentials: "same-origin", signal: controller.signal
      }).then(function (response) {
        return response.ok ? response.text() : null;
      }).then(function (html) {
        if (html === null || query !== last) { return; }
        panel.innerHTML = html;
        panel.hidden = false;
      }).catch(function () { /* typing goes on; the next pause tries again */ })
        .finally(function () { panel.removeAttribute("aria-busy"); });
    }

    function schedule() {
      clearTimeout(timer);
      timer = setTimeout(refresh, DELAY);
    }

    fields.forEach(function (field) { field.addEventListener("input", schedule); });
    if (teamField) { teamField.addEventListener("change", schedule); }
    panel.addEventListener("click", function (event) {
      var fill = event.target.closest("[data-similar-fill]");
      if (fill) { choose(form, fill); return; }
      var lesson = event.target.closest("[data-similar-lesson]");
      if (lesson) { applyLesson(form, lesson); }
    });
    if (fields.some(function (field) { return field.value.trim().length >= MIN_LENGTH; })) { refresh(); }
  }

  function done(button, text) {
    button.classList.add("is-chosen");
    button.setAttribute("aria-pressed", "true");
    button.textContent = text;
  }

  function choose(form, button) {
    var name = button.dataset.similarFill;
    var value = form.querySelector("input[data-picker-value][name='" + name + "']");
    if (!value) { return; }
    var picker = value.closest("[data-picker]");
    picker.dispatchEvent(new CustomEvent("picker:choose", {
      bubbles: true, detail: { id: button.dataset.id, label: button.dataset.label }
    }));
    var label = form.querySelector("label[for='" + picker.querySelector("[data-picker-input]").id + "']");
    done(button, "✓ " + (label ? label.textContent.trim() : "Chosen"));
  }

  function applyLesson(form, button) {
    var list = form.querySelector("[data-picker-options]");
    if (!list) { return; }
    var id = button.dataset.similarLesson;
    var box = list.querySelector("input[name='applied_lessons'][value='" + id + "']");
    if (!box) {
      var item = document.createElement("li");
      item.setAttribute("data-picker-option", "");
      var label = document.createElement("label");
      box = document.createElement("input");
      box.type = "checkbox";
      box.name = "applied_lessons";
      box.value = id;
      var text = document.createElement("span");
      text.className = "picker-text";
      text.textContent = button.dataset.text;
      var meta = document.createElement("span");
      meta.className = "muted small";
      meta.textContent = button.dataset.team + " · " + button.dataset.source + " · " + button.dataset.date;
      label.append(box, " ", text, " ", meta);
      item.appendChild(label);
      list.insertBefore(item, list.firstChild);
      var empty = list.querySelector("[data-picker-empty]");
      if (empty) { empty.remove(); }
    }
    box.checked = true;
    box.closest("[data-picker-option]").hidden = false;
    done(button, "✓ Applied here");
  }

  function init() { document.querySelectorAll("[data-similar]").forEach(setup); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
