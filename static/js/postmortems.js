/* Action item status changes in place: a status <select> inside form[data-status-toggle] is posted
   with fetch as soon as it changes, and the row's badges are updated from the JSON answer. Without
   JavaScript the same form posts normally (its Update button) and the page comes back. */
(function () {
  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }
  function show(form, text, isError) {
    var note = form.querySelector(".status-note");
    if (!note) {
      note = document.createElement("span");
      note.className = "status-note";
      note.setAttribute("role", "status");
      form.appendChild(note);
    }
    note.textContent = text;
    note.classList.toggle("is-error", Boolean(isError));
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
    show(form, "Saved", false);
  }
  function submit(form) {
    var select = form.querySelector("select[name=status]");
    var previous = select.getAttribute("data-current") || select.value;
    var body = new URLSearchParams(new FormData(form));
    select.disabled = true;
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
      update(form, result.data);
    }).catch(function (error) {
      select.value = previous;
      show(form, error.message || "Not saved", true);
    }).finally(function () {
      select.disabled = false;
    });
  }
  function init(form) {
    var select = form.querySelector("select[name=status]");
    var button = form.querySelector("[data-status-submit]");
    if (!select) { return; }
    select.setAttribute("data-current", select.value);
    if (button) { button.hidden = true; }
    select.addEventListener("change", function () { submit(form); });
    form.addEventListener("submit", function (event) { event.preventDefault(); submit(form); });
  }
  function initAll() { document.querySelectorAll("form[data-status-toggle]").forEach(init); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", initAll); } else { initAll(); }
})();
