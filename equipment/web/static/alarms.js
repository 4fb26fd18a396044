/* The live alarm board (/ui/alarms): each event of the alarm stream names an alarm whose
   card is fetched again from the server (so every label and button is the server's); a
   closed alarm leaves the board; `reset` (too far behind) reloads the page. Entrapment
   clocks run until the technician is on site. The step buttons post with the CSRF header
   and stay plain forms without this script. */
(function () {
  "use strict";
  var list = document.getElementById("alarms");
  var status = document.getElementById("board-status");
  var empty = document.getElementById("no-alarms");
  var csrf = list.dataset.csrf;

  function refreshEmpty() { empty.hidden = list.children.length > 0; }

  function card(id, fresh) {
    return fetch("/ui/alarms/" + encodeURIComponent(id) + "/card", { credentials: "same-origin" })
      .then(function (r) {
        if (r.redirected && r.url.indexOf("/login") !== -1) { location.reload(); return; }
        var old = document.getElementById("alarm-" + id);
        if (r.status === 404) { if (old) { old.remove(); } refreshEmpty(); return; }
        if (!r.ok) { return; }
        return r.text().then(function (html) {
          var box = document.createElement("template");
          box.innerHTML = html.trim();
          var item = box.content.firstElementChild;
          if (item.dataset.state !== "open") { if (old) { old.remove(); } refreshEmpty(); return; }
          if (fresh) { item.classList.add("fresh"); }
          if (old) { old.replaceWith(item); } else { list.insertBefore(item, list.firstChild); }
          refreshEmpty();
          tick();
        });
      });
  }

  function connect() {
    var source = new EventSource(list.dataset.stream);
    source.addEventListener("open", function () {
      status.textContent = status.dataset.live;
      document.body.dataset.live = "true";
    });
    source.addEventListener("alarm", function (e) {
      var change = JSON.parse(e.data);
      card(change.alarm.id, change.event === "raised");
    });
    source.addEventListener("reset", function () { location.reload(); });
    source.addEventListener("error", function () {
      status.textContent = status.dataset.lost;
      document.body.dataset.live = "false";
      // The browser reconnects by itself (with Last-Event-ID) unless the server refused
      // the stream (logged out, too many streams): then start again from a fresh page.
      if (source.readyState === EventSource.CLOSED) { setTimeout(function () { location.reload(); }, 5000); }
    });
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var now = Date.now();
    list.querySelectorAll(".clock[data-since]").forEach(function (clock) {
      var seconds = Math.max(0, Math.floor((now - Date.parse(clock.dataset.since)) / 1000));
      var h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
      clock.textContent = (h ? h + ":" + two(m) : m) + ":" + two(s);
      clock.classList.toggle("late", now > Date.parse(clock.dataset.by));
    });
  }

  list.addEventListener("submit", function (e) {
    var form = e.target;
    e.preventDefault();
    var button = form.querySelector("button");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf },
      body: new URLSearchParams(new FormData(form)),
      redirect: "manual"
    }).then(function (r) {
      var item = form.closest("li");
      // Done: the handler answers with a redirect back to the board.
      if (r.type === "opaqueredirect") { return card(item.dataset.alarm, false); }
      return r.text().then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var problem = page.querySelector(".problem");
        var error = item.querySelector(".error");
        error.textContent = problem ? problem.textContent : String(r.status);
        error.hidden = false;
        button.disabled = false;
      });
    });
  });

  tick();
  setInterval(tick, 1000);
  refreshEmpty();
  connect();
})();
