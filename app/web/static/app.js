/* Identito desk pages: keyboard shortcuts (served from 'self': the CSP forbids inline script).
   Arrow down from a search field goes to the first result, arrows move between results,
   "/" focuses the name field, Escape goes back where a page offers a [data-back] link.
   A failed htmx request shows its message in the page's #notice alert. */
(function () {
  "use strict";

  function resultLinks() {
    return Array.prototype.slice.call(document.querySelectorAll("#results a.row-link"));
  }

  function isField(element) {
    return element instanceof HTMLInputElement || element instanceof HTMLTextAreaElement ||
      element instanceof HTMLSelectElement;
  }

  function moveInResults(event) {
    var links = resultLinks();
    if (links.length === 0) { return; }
    var index = links.indexOf(document.activeElement);
    var inSearch = isField(event.target) && event.target.form && event.target.form.id === "search";
    if (index === -1) {
      if (inSearch && event.key === "ArrowDown") { links[0].focus(); event.preventDefault(); }
      return;
    }
    var next = event.key === "ArrowDown" ? Math.min(index + 1, links.length - 1) : index - 1;
    if (next < 0) {
      document.getElementById("f-name").focus();
    } else {
      links[next].focus();
    }
    event.preventDefault();
  }

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      moveInResults(event);
    } else if (event.key === "/" && !isField(event.target)) {
      var name = document.getElementById("f-name");
      if (name) { name.focus(); event.preventDefault(); }
    } else if (event.key === "Escape" && !isField(event.target)) {  // never drop a form being typed
      var back = document.querySelector("a[data-back]");
      if (back) { window.location.assign(back.getAttribute("href")); }
    }
  });

  // A field's live check (create form): the message put next to it also marks the field invalid.
  document.addEventListener("htmx:afterSwap", function (event) {
    var box = event.detail.target;
    if (!box || !box.classList || !box.classList.contains("field-error")) { return; }
    var field = document.getElementById(box.getAttribute("data-for"));
    if (!field) { return; }
    var bad = box.textContent.trim() !== "";
    if (bad) { field.setAttribute("aria-invalid", "true"); } else { field.removeAttribute("aria-invalid"); }
    field.parentElement.classList.toggle("invalid", bad);
  });

  // A request made by htmx (search as you type, a field's check) that fails is not swapped in:
  // without this the page would just stay as it was. The server's message (a lost database, an
  // unexpected error) or, with no answer at all, the page's own text goes in the #notice alert;
  // the next request that succeeds takes it away. What the agent typed stays where it is.
  function notice(text) {
    var box = document.getElementById("notice");
    if (!box) { return; }
    box.textContent = text || "";
    box.hidden = !text;
    if (text) { box.className = "error"; box.setAttribute("role", "alert"); }  // announced when shown
  }

  document.addEventListener("htmx:responseError", function (event) {
    var box = document.getElementById("notice");
    var xhr = event.detail.xhr;
    var text = "";
    if (xhr && xhr.responseText) {
      var answers = new DOMParser().parseFromString(xhr.responseText, "text/html").querySelectorAll(".error");
      for (var i = 0; i < answers.length && !text; i++) { text = answers[i].textContent.trim(); }
    }
    notice(text || (box && box.getAttribute("data-failed") + " " + (xhr ? xhr.status : "")));
  });
  document.addEventListener("htmx:sendError", function () {
    var box = document.getElementById("notice");
    notice(box && box.getAttribute("data-unreachable"));
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) { notice(""); }
  });
})();
