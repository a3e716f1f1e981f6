/* Pages that wait for someone else's work update themselves (batches/views/live.py).
 *
 * The batch page and the delivery desk carry data-live-url and the stamp of the batch's audit trail they
 * were drawn from. Every data-live-seconds seconds this asks the server whether anything of the batch was
 * recorded since (GET <url>?stamp=<stamp>): 204 while nothing was, otherwise the page's content drawn anew,
 * which replaces the old one without a page load. What the person typed is kept (each changed field is
 * copied into its twin by id), as are the focus and the sections they opened or closed; while a file is
 * chosen the update waits. The requests do not renew the session: the idle timeout still applies. Polling
 * pauses while the page is hidden, backs off after an error, and stops for good when the session has
 * ended (a redirect to the login page) or the page is refused; the status line then says so.
 */
(function () {
  "use strict";

  var region = document.querySelector("[data-live-url]");
  if (!region || !window.fetch || !window.CSS) { return; }
  var status = document.getElementById("live-status");
  var interval = Math.max(2, parseInt(region.getAttribute("data-live-seconds"), 10) || 5) * 1000;
  var delay = interval;
  var timer = null;
  var busy = false;
  var stopped = false;

  function each(list, callback) { Array.prototype.forEach.call(list, callback); }

  function twin(root, element) {
    return element.id ? root.querySelector("#" + window.CSS.escape(element.id)) : null;
  }

  function changed(field) {
    if (field.type === "checkbox" || field.type === "radio") { return field.checked !== field.defaultChecked; }
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
    }
    return field.value !== field.defaultValue;
  }

  function kept(field) {
    // A form already sent (labels printed: the page stayed) starts afresh; hidden fields are the server's.
    if (!field.id || ["hidden", "submit", "button", "file"].indexOf(field.type) >= 0) { return false; }
    return !(field.form && field.form.hasAttribute("data-live-sent")) && changed(field);
  }

  function carry(fresh) {
    each(region.querySelectorAll("input, select, textarea"), function (field) {
      var other = kept(field) ? twin(fresh, field) : null;
      if (!other || other.tagName !== field.tagName || other.type !== field.type) { return; }
      if (field.type === "checkbox" || field.type === "radio") { other.checked = field.checked; }
      else if (field.tagName === "SELECT") {
        each(other.options, function (o) {
          o.selected = Array.prototype.some.call(field.selectedOptions, function (s) { return s.value === o.value; });
        });
      } else { other.value = field.value; }
    });
    each(region.querySelectorAll("details[id][data-live-toggled]"), function (details) {
      var other = twin(fresh, details);
      if (other) { other.open = details.open; other.setAttribute("data-live-toggled", ""); }
    });
  }

  function fileChosen() {
    return Array.prototype.some.call(region.querySelectorAll("input[type=file]"), function (f) {
      return f.files && f.files.length > 0;
    });
  }

  function say(attribute) {
    if (!status) { return; }
    status.textContent = "";
    status.textContent = status.getAttribute(attribute) || "";
  }

  function apply(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html;
    var fresh = holder.content.firstElementChild;
    if (!fresh || !fresh.hasAttribute("data-live-stamp")) { return; }
    var active = document.activeElement;
    var focused = active && region.contains(active) ? active : null;
    var selection = null;
    if (focused && typeof focused.selectionStart === "number") {
      try { selection = [focused.selectionStart, focused.selectionEnd]; } catch (e) { selection = null; }
    }
    carry(fresh);
    region.replaceChildren.apply(region, Array.prototype.slice.call(fresh.childNodes));
    region.setAttribute("data-live-stamp", fresh.getAttribute("data-live-stamp"));
    var again = focused ? twin(region, focused) : null;
    if (again) {
      again.focus();
      if (selection) { try { again.setSelectionRange(selection[0], selection[1]); } catch (e) { /* not text */ } }
    }
    say("data-updated");
  }

  function stop() {
    stopped = true;
    if (timer) { clearTimeout(timer); timer = null; }
    say("data-stopped");
  }

  function schedule(after) {
    if (stopped || document.hidden) { return; }
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(poll, after);
  }

  function poll() {
    timer = null;
    if (stopped || busy || document.hidden) { return; }
    busy = true;
    var url = region.getAttribute("data-live-url") + "?stamp=" + encodeURIComponent(region.getAttribute("data-live-stamp"));
    fetch(url, { credentials: "same-origin", redirect: "manual", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.type === "opaqueredirect" || [401, 403, 404, 405].indexOf(response.status) >= 0) {
          stop();
          return null;
        }
        if (response.status === 204) { delay = interval; return null; }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        delay = interval;
        return response.text();
      })
      .then(function (html) {
        // A chosen file cannot be carried over: the update waits until the form is sent (the stamp is kept,
        // so the next question brings the new content again).
        if (html && !stopped && !fileChosen()) { apply(html); }
      })
      .catch(function () { delay = Math.min(delay * 2, 60000); })
      .then(function () { busy = false; schedule(delay); });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!region.contains(form)) { return; }
    form.setAttribute("data-live-sent", "");
    // A form whose answer is a file (printed labels) leaves the page here: show what it recorded soon.
    schedule(1000);
  });

  // A section the person opened or closed (its summary clicked, or pressed with the keyboard) stays so.
  document.addEventListener("click", function (event) {
    var summary = event.target.closest ? event.target.closest("summary") : null;
    if (summary && region.contains(summary) && summary.parentElement.tagName === "DETAILS") {
      summary.parentElement.setAttribute("data-live-toggled", "");
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      if (timer) { clearTimeout(timer); timer = null; }
    } else {
      schedule(0);
    }
  });

  schedule(delay);
})();
