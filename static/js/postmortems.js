/* Action item status, in place. A status <select> inside form[data-status-toggle] saves only when
   its Save button is pressed (the form's submit): choosing an option, with the mouse or the arrow
   keys, only marks the choice unsaved. The form is posted with fetch; the row's badges and the
   "My action items" counters ([data-my-count]) are updated from the JSON answer, and an Undo
   button posts the previous status back to the same endpoint. Without JavaScript the same form
   posts normally and the page comes back. */
(function () {
  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function note(form) {
    var element = form.querySelector("[data-status-note]");
    if (!element) {
      element = document.createElement("span");
      element.className = "status-note";
      element.setAttribute("role", "status");
      element.setAttribute("data-status-note", "");
      form.appendChild(element);
    }
    return element;
  }
  function show(form, text, isError) {
    var element = note(form);
    element.textContent = text;
    element.classList.toggle("is-error", Boolean(isError));
  }
  function offerUndo(form, data) {
    var element = note(form);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button small";
    button.setAttribute("data-status-undo", "");
    button.textContent = "Undo";
    button.setAttribute("aria-label", "Undo: back to " + data.previous_status_display);
    button.addEventListener("click", function () {
      post(form, data.previous_status, true);
    });
    element.appendChild(document.createTextNode(" "));
    element.appendChild(button);
  }
  function update(form, data) {
    var id = form.getAttribute("data-status-toggle");
    document.querySelectorAll('[data-item-status="' + id + '"]').forEach(function (badge) {
      badge.className = "badge " + data.status;
      badge.textContent = data.status_display;
    });
    document.querySelectorAll('[data-item-overdue="' + id + '"]').forEach(function (badge) {
      badge.hidden = !data.overdue;
    });
    var row = document.querySelector('[data-action-item="' + id + '"]');
    if (row) { row.classList.toggle("is-overdue", Boolean(data.overdue)); }
    var counts = data.my_counts || {};
    document.querySelectorAll("[data-my-count]").forEach(function (counter) {
      var value = counts[counter.getAttribute("data-my-count")];
      if (value !== undefined) { counter.textContent = String(value); }
    });
  }
  function setBusy(form, busy) {
    form.querySelectorAll("select, button").forEach(function (control) { control.disabled = busy; });
  }
  function post(form, status, undoing) {
    var select = form.querySelector("select[name=status]");
    var body = new URLSearchParams(new FormData(form));
    body.set("status", status);
    setBusy(form, true);
    fetch(form.action, {
      method: "POST",
      body: body,
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken(form) },
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (!result.ok) { throw new Error(result.data.error || "Not saved"); }
      select.setAttribute("data-current", result.data.status);
      select.value = result.data.status;
      update(form, result.data);
      if (undoing) {
        show(form, "Back to " + result.data.status_display + ".", false);
      } else {
        show(form, "Saved: " + result.data.status_display + ".", false);
        offerUndo(form, result.data);
      }
    }).catch(function (error) {
      select.value = select.getAttribute("data-current");
      show(form, (error && error.message) || "Not saved", true);
    }).finally(function () {
      setBusy(form, false);
    });
  }
  function init(form) {
    var select = form.querySelector("select[name=status]");
    if (!select) { return; }
    if (!select.getAttribute("data-current")) { select.setAttribute("data-current", select.value); }
    select.addEventListener("change", function () {
      if (select.value === select.getAttribute("data-current")) {
        show(form, "", false);
      } else {
        show(form, "Not saved yet: press Save.", false);
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (select.value === select.getAttribute("data-current")) {
        show(form, "Unchanged.", false);
        return;
      }
      post(form, select.value, false);
    });
  }
  function initAll() { document.querySelectorAll("form[data-status-toggle]").forEach(init); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", initAll); } else { initAll(); }
})();
