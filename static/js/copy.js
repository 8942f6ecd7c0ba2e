/* Copy buttons: a <button data-copy-target="ID"> copies the text of element #ID to the clipboard
   and says so in its [data-copy-status] sibling. The button stays hidden without JavaScript or
   without the Clipboard API (plain HTTP on a non-local host); then the text is selectable. */
(function () {
  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function init(button) {
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    var status = button.parentNode.querySelector("[data-copy-status]");
    if (!target || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        if (status) { status.textContent = "Copied to the clipboard."; }
      }, function () {
        select(target);
        if (status) { status.textContent = "Could not copy: the key is selected, press Ctrl+C (⌘C)."; }
      });
    });
  }
  function initAll() { document.querySelectorAll("button[data-copy-target]").forEach(init); }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", initAll); } else { initAll(); }
})();
