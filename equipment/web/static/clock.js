// Running clocks of the alarms in progress: each <time class="clock" datetime="..."> holds
// the server's start timestamp; the elapsed time ticks on once a second. The server
// rendered the first value, so the page reads right without this script.
(function () {
  "use strict";
  var clocks = document.querySelectorAll("time.clock[datetime]");
  if (!clocks.length) return;
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    var now = Date.now();
    for (var i = 0; i < clocks.length; i++) {
      var start = Date.parse(clocks[i].getAttribute("datetime"));
      if (isNaN(start)) continue;
      var s = Math.max(0, Math.floor((now - start) / 1000));
      clocks[i].textContent = Math.floor(s / 3600) + ":" + pad(Math.floor(s % 3600 / 60)) + ":" + pad(s % 60);
    }
  }
  tick();
  setInterval(tick, 1000);
})();
