/* Scanner-first identity fields (docs/chain-of-identity.md, "Scanner-first forms").
 *
 * A barcode scanner types the characters quickly, then Enter. On a field marked data-scan-kind, Enter
 * does not submit the form: the value is checked on its own (POST to the form's data-scan-url, which
 * records a refused scan like any other); accepted, the cursor moves to the next field; refused, the
 * field is cleared and the message says why, so the next scan is not appended to the refused one.
 */
(function () {
  "use strict";

  function messageFor(field) {
    var id = field.id + "-scan-message";
    var box = document.getElementById(id);
    if (!box) {
      box = document.createElement("div");
      box.id = id;
      box.className = "cb-scan-message";
      box.setAttribute("role", "alert");
      field.insertAdjacentElement("afterend", box);
    }
    return box;
  }

  function nextField(field, keyed) {
    var form = field.form;
    var fields = Array.prototype.filter.call(form.elements, function (el) {
      if (el !== field && el.hasAttribute("data-override") && !keyed) { return false; }
      return !el.disabled && el.type !== "hidden" && el.tagName !== "FIELDSET" && el.offsetParent !== null;
    });
    var index = fields.indexOf(field);
    return index >= 0 && index + 1 < fields.length ? fields[index + 1] : null;
  }

  function check(field) {
    var form = field.form;
    var body = new FormData();
    body.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    body.append("point", form.getAttribute("data-scan-point"));
    body.append("kind", field.getAttribute("data-scan-kind"));
    body.append("value", field.value);
    var box = messageFor(field);
    box.textContent = "Checking…";
    box.className = "cb-scan-message";
    field.setAttribute("aria-busy", "true");
    return fetch(form.getAttribute("data-scan-url"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        field.removeAttribute("aria-busy");
        box.textContent = answer.message;
        if (answer.ok) {
          box.className = "cb-scan-message cb-ok";
          field.setAttribute("data-scan-state", answer.keyed ? "keyed" : "accepted");
          var next = nextField(field, answer.keyed);
          if (next) { next.focus(); }
        } else {
          box.className = "cb-scan-message cb-sig-invalid";
          field.setAttribute("data-scan-state", "refused");
          field.value = "";
          field.focus();
        }
      })
      .catch(function () {
        field.removeAttribute("aria-busy");
        box.textContent = "The scan could not be checked: the form will check it when sent.";
      });
  }

  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || !field.hasAttribute || !field.hasAttribute("data-scan-kind")) { return; }
    if (!field.form || !field.form.getAttribute("data-scan-url")) { return; }  // no check for this form
    event.preventDefault();
    if (field.value.trim() === "") { return; }
    check(field);
  });

  document.addEventListener("input", function (event) {
    var field = event.target;
    if (field.hasAttribute && field.hasAttribute("data-scan-kind")) { field.removeAttribute("data-scan-state"); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    var first = document.querySelector("form[data-scan-url] [data-scan-kind]");
    if (first && document.activeElement === document.body) { first.focus(); }
  });
})();
