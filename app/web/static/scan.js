/* The DataMatrix INS scanner field (a 2D scanner in keyboard mode types the symbol, then Enter).
   - The group separator (GS, 0x1D) has no key: scanners send Ctrl+], turned back into GS here.
   - A scan typed into a search field (the cursor starts in the name field) moves to the scanner field
     as soon as it looks like a DataMatrix INS header (IS01 + zeros), so Enter reads it.
   - After a reading that did not open an identity, the cursor waits in the scanner field. */
(function () {
  "use strict";
  var HEADER = "IS010000000";

  function scanField() { return document.getElementById("f-scan"); }

  document.addEventListener("keydown", function (event) {
    var field = scanField();
    if (!field || event.target !== field || !event.ctrlKey) { return; }
    if (event.key === "]" || event.code === "BracketRight" || event.key === "\u001d") {
      var start = field.selectionStart, end = field.selectionEnd;
      field.setRangeText("\u001d", start, end, "end");
      event.preventDefault();
    }
  });

  document.addEventListener("input", function (event) {
    var field = scanField();
    var name = event.target;  // any field of the search form (the cursor starts in the name field)
    if (!field || !(name instanceof HTMLInputElement) || !name.form || name.form.id !== "search") { return; }
    if (name.value.length >= HEADER.length && name.value.indexOf(HEADER) === 0) {
      field.value = name.value;
      name.value = "";
      field.focus();
      field.setSelectionRange(field.value.length, field.value.length);
    }
  });

  function focusAfterResult() {
    var field = scanField();
    if (field && document.querySelector("[data-scan-result]")) { field.focus(); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusAfterResult);
  } else {
    focusAfterResult();
  }
})();
