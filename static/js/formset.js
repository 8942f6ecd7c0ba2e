/* Repeatable form rows for Django formsets, reusable by any page.
   Markup: rows inside <div data-formset-rows="PREFIX">, a <template id="PREFIX-empty-form"> holding
   formset.empty_form (with __prefix__), and a <button data-formset-add="PREFIX">. Clicking the button
   appends a copy of the template with the next index and bumps PREFIX-TOTAL_FORMS (up to MAX_NUM_FORMS).
   Enter in a one-line field of a row adds a row (of this markup, or of the experiment form's
   [data-formset] ... [data-add-row]) instead of submitting the form; textareas keep their newlines and
   type-ahead pickers their own Enter. base.html loads this file on every page; a second copy is a no-op. */
(function () {
  if (window.learninghubFormset) { return; }
  window.learninghubFormset = true;
  function addRow(prefix) {
    var total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    var max = document.getElementById("id_" + prefix + "-MAX_NUM_FORMS");
    var template = document.getElementById(prefix + "-empty-form");
    var container = document.querySelector('[data-formset-rows="' + prefix + '"]');
    if (!total || !template || !container) { return; }
    var index = parseInt(total.value, 10) || 0;
    if (max && index >= parseInt(max.value, 10)) { return; }
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index)).trim();
    var row = holder.firstElementChild;
    container.appendChild(row);
    total.value = String(index + 1);
    var first = row.querySelector("textarea, select, input:not([type=hidden]):not([type=checkbox])");
    if (first) { first.focus(); }
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-formset-add]");
    if (!button) { return; }
    event.preventDefault();
    addRow(button.getAttribute("data-formset-add"));
  });

  var NOT_TEXT = /^(button|submit|reset|image|checkbox|radio|file|hidden|color|range)$/;
  function addButtonFor(field) {
    var rows = field.closest("[data-formset-rows]");
    if (rows) {
      return document.querySelector('[data-formset-add="' + rows.getAttribute("data-formset-rows") + '"]');
    }
    var formset = field.closest("[data-formset]");
    if (formset && field.closest("[data-rows]")) { return formset.querySelector("[data-add-row]"); }
    return null;
  }
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.defaultPrevented || event.isComposing) { return; }
    if (event.shiftKey || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var field = event.target;
    if (!(field instanceof HTMLInputElement) || NOT_TEXT.test(field.type) || field.matches("[data-picker-input]")) { return; }
    var button = addButtonFor(field);
    if (!button) { return; }
    event.preventDefault();
    button.click();
  });
})();
