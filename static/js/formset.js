/* Repeatable form rows for Django formsets, reusable by any page.
   Markup: rows inside <div data-formset-rows="PREFIX">, a <template id="PREFIX-empty-form"> holding
   formset.empty_form (with __prefix__), and a <button data-formset-add="PREFIX">. Clicking the button
   appends a copy of the template with the next index and bumps PREFIX-TOTAL_FORMS (up to MAX_NUM_FORMS). */
(function () {
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
})();
