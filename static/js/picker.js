/* Type-ahead pickers (learninghub/kernel/widgets.py PickerInput): a search box, a hidden input with
   the chosen id, and a list filled from the endpoint in the enclosing form's data-pick-url as the
   person types. Typing replaces the choice (the hidden id is cleared until an option is picked);
   Escape restores it. Listeners are on the document, so rows added later work too. Other scripts
   choose an option by dispatching "picker:choose" ({detail: {id, label}}) on the picker element. */
(function () {
  "use strict";
  var DELAY = 250;
  var timers = new WeakMap();

  function parts(picker) {
    return {
      input: picker.querySelector("[data-picker-input]"),
      value: picker.querySelector("[data-picker-value]"),
      results: picker.querySelector("[data-picker-results]")
    };
  }

  function chosenLabel(input) {
    return input.dataset.chosenLabel !== undefined ? input.dataset.chosenLabel : input.defaultValue;
  }

  function chosenId(value) {
    return value.dataset.chosenId !== undefined ? value.dataset.chosenId : value.defaultValue;
  }

  function teamId(picker) {
    var form = picker.closest("form");
    var name = picker.dataset.pickerTeamField;
    var field = name && form ? form.querySelector("[name='" + name + "']") : null;
    if (field && field.value) { return field.value; }
    return form && form.dataset.teamId ? form.dataset.teamId : "";
  }

  function address(picker, query) {
    var holder = picker.closest("[data-pick-url]");
    if (!holder) { return null; }
    var params = new URLSearchParams(picker.dataset.pickerQuery || "");
    params.set("kind", picker.dataset.picker);
    params.set("q", query);
    var team = teamId(picker);
    if (team && !params.has("team") && !params.has("team_id")) { params.set("team_id", team); }
    return holder.dataset.pickUrl + "?" + params.toString();
  }

  function close(picker) {
    var p = parts(picker);
    p.results.hidden = true;
    p.input.setAttribute("aria-expanded", "false");
    p.input.removeAttribute("aria-activedescendant");
  }

  function choose(picker, id, label) {
    var p = parts(picker);
    p.value.value = id || "";
    p.value.dataset.chosenId = id || "";
    p.input.value = label || "";
    p.input.dataset.chosenLabel = label || "";
    close(picker);
    p.value.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function show(picker, items) {
    var p = parts(picker);
    p.results.textContent = "";
    if (!items.length) {
      var none = document.createElement("li");
      none.className = "picker-empty muted small";
      none.textContent = "No match";
      p.results.appendChild(none);
    }
    items.forEach(function (item, index) {
      var option = document.createElement("li");
      option.className = "picker-result";
      option.id = p.input.id + "-option-" + index;
      option.setAttribute("role", "option");
      option.dataset.id = item.id;
      option.dataset.label = item.label;
      var text = document.createElement("span");
      text.textContent = item.label;
      option.appendChild(text);
      if (item.outcome) {
        var badge = document.createElement("span");
        badge.className = "badge " + item.outcome;
        badge.textContent = item.outcome.charAt(0).toUpperCase() + item.outcome.slice(1);
        option.append(" ", badge);
      }
      p.results.appendChild(option);
    });
    p.results.hidden = false;
    p.input.setAttribute("aria-expanded", "true");
  }

  function search(picker) {
    var p = parts(picker);
    var query = p.input.value.trim();
    var url = address(picker, query === chosenLabel(p.input) ? "" : query);
    if (!url) { return; }
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) {
        if (p.input.value.trim() === query && document.activeElement === p.input) { show(picker, data.results || []); }
      })
      .catch(function () { /* the box keeps what was typed; the server validates */ });
  }

  function schedule(picker) {
    clearTimeout(timers.get(picker));
    timers.set(picker, setTimeout(function () { search(picker); }, DELAY));
  }

  function pickerOf(target) {
    return target && target.closest ? target.closest("[data-picker]") : null;
  }

  function move(picker, step) {
    var p = parts(picker);
    var options = Array.prototype.slice.call(p.results.querySelectorAll("[role=option]"));
    if (p.results.hidden || !options.length) { return; }
    var current = options.findIndex(function (option) { return option.classList.contains("is-active"); });
    var next = (current + step + options.length) % options.length;
    options.forEach(function (option) { option.classList.remove("is-active"); option.setAttribute("aria-selected", "false"); });
    options[next].classList.add("is-active");
    options[next].setAttribute("aria-selected", "true");
    p.input.setAttribute("aria-activedescendant", options[next].id);
  }

  document.addEventListener("input", function (event) {
    if (!event.target.matches || !event.target.matches("[data-picker-input]")) { return; }
    var picker = pickerOf(event.target);
    var p = parts(picker);
    if (p.input.value !== chosenLabel(p.input)) { p.value.value = ""; }
    schedule(picker);
  });

  document.addEventListener("focusin", function (event) {
    if (!event.target.matches || !event.target.matches("[data-picker-input]")) { return; }
    schedule(pickerOf(event.target));
  });

  document.addEventListener("focusout", function (event) {
    if (!event.target.matches || !event.target.matches("[data-picker-input]")) { return; }
    var picker = pickerOf(event.target);
    setTimeout(function () { close(picker); }, 150);
  });

  document.addEventListener("keydown", function (event) {
    if (!event.target.matches || !event.target.matches("[data-picker-input]")) { return; }
    var picker = pickerOf(event.target);
    var p = parts(picker);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (p.results.hidden) { search(picker); } else { move(picker, event.key === "ArrowDown" ? 1 : -1); }
    } else if (event.key === "Enter") {
      event.preventDefault();  // never submit the form from the search box
      var active = p.results.querySelector(".is-active") || (p.results.hidden ? null : p.results.querySelector("[role=option]"));
      if (active) { choose(picker, active.dataset.id, active.dataset.label); }
    } else if (event.key === "Escape") {
      if (!p.results.hidden) { event.preventDefault(); }
      close(picker);
      if (p.input.value.trim()) {  // back to the choice made before typing
        p.input.value = chosenLabel(p.input);
        p.value.value = chosenId(p.value);
      }
    }
  });

  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest ? event.target.closest("[data-picker-results] [role=option]") : null;
    if (!option) { return; }
    event.preventDefault();  // keep the focus in the box until the choice is made
    choose(pickerOf(option), option.dataset.id, option.dataset.label);
  });

  document.addEventListener("picker:choose", function (event) {
    var picker = pickerOf(event.target);
    if (picker && event.detail) { choose(picker, String(event.detail.id), event.detail.label); }
  });
})();
