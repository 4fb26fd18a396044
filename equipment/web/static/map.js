/* The map of old residential areas (/ui/map): area outlines shaded by overdue lifts or by
   risk, the caller's lifts as clustered points coloured by state, each linking to its
   unit's page. Data from /ui/map/data/... (the session's scope, the base tiles' crs).
   No build step; Leaflet and markercluster are served by the app. */
(function () {
  "use strict";
  var box = document.getElementById("map");
  var status = document.getElementById("map-status");
  var texts = JSON.parse(document.getElementById("map-texts").textContent);
  var SHADE = { high: "#a4161a", medium: "#e85d04", low: "#f4a261", none: "#74a57f" };
  var STATE = { alarm: "#a4161a", stopped: "#6c757d", overdue: "#e85d04", ok: "#1d6b35" };
  var say = function (text, params) {
    return text.replace(/\{(\w+)\}/g, function (_, k) { return params[k]; });
  };

  function load(url, signal) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, signal: signal })
      .then(function (r) {
        // An ended session is sent to the login page: go there too.
        if (r.redirected && r.url.indexOf("/login") !== -1) { location.reload(); }
        if (!r.ok) { throw new Error(r.status); }
        return r.json();
      });
  }

  function failed(err) {
    if (err && err.name === "AbortError") { return; }
    status.textContent = texts.failed;
    if (window.console) { console.error(err); }
  }

  var by = "overdue";
  function areaStyle(feature) {
    var p = feature.properties;
    var colour = by === "risk" ? (p.at_risk ? SHADE.high : SHADE.none) : SHADE[p.shade];
    return { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.35 };
  }

  function line(parent, text) {
    var el = document.createElement("div");
    el.textContent = text;
    parent.appendChild(el);
    return el;
  }

  function areaPopup(feature) {
    var p = feature.properties, div = document.createElement("div");
    var title = line(div, p.name);
    title.className = "popup-title";
    line(div, texts.lifts + ": " + p.lifts);
    line(div, texts.overdue + ": " + p.overdue_inspections);
    line(div, texts.alarms + ": " + p.open_alarms);
    return div;
  }

  function liftPopup(p) {
    var div = document.createElement("div");
    line(div, p.code).className = "popup-title";
    if (p.address) { line(div, p.address); }
    line(div, texts.states[p.state] || p.state);
    var a = document.createElement("a");
    a.href = box.dataset.units + encodeURIComponent(p.id);
    a.className = "unit-link";
    a.textContent = texts.open_unit;
    div.appendChild(a);
    return div;
  }

  load("/ui/map/data/config").then(function (config) {
    // markercluster needs the map's maxZoom even when no tile layer sets one (offline).
    var map = L.map(box, { maxZoom: config.tile_max_zoom || 19 });
    if (config.tile_url) {
      L.tileLayer(config.tile_url, { maxZoom: config.tile_max_zoom, attribution: config.tile_attribution }).addTo(map);
    }
    var wanted = [load("/ui/map/data/areas?kind=old_residential")];
    // Offline (no tiles configured): the register's own district outlines are the base.
    if (config.offline) { wanted.push(load("/ui/map/data/areas?kind=district")); }
    return Promise.all(wanted).then(function (got) {
      var base = got[1] && L.geoJSON(got[1], {
        interactive: false,
        style: { color: "#5c6670", weight: 1, fillColor: "#e9ecef", fillOpacity: 1 }
      }).addTo(map);
      var areas = L.geoJSON(got[0], {
        style: areaStyle,
        onEachFeature: function (feature, layer) {
          layer.bindPopup(function () { return areaPopup(feature); });
          layer.areaId = feature.properties.area_id;
        }
      }).addTo(map);
      var bounds = areas.getBounds();
      if (!bounds.isValid() && base) { bounds = base.getBounds(); }
      if (bounds.isValid()) { map.fitBounds(bounds); } else { map.setView([30.6, 114.3], 6); }

      document.querySelectorAll("input[name=shade-by]").forEach(function (input) {
        input.addEventListener("change", function () {
          by = input.value;
          areas.setStyle(areaStyle);
          document.querySelector(".legend-overdue").hidden = by !== "overdue";
          document.querySelector(".legend-risk").hidden = by !== "risk";
        });
      });
      document.querySelectorAll(".area-link").forEach(function (a) {
        a.addEventListener("click", function () {
          areas.eachLayer(function (layer) {
            if (String(layer.areaId) === a.dataset.area) { map.fitBounds(layer.getBounds()); layer.openPopup(); }
          });
        });
      });

      var points = L.markerClusterGroup({ showCoverageOnHover: false }).addTo(map);
      var pending = null;
      function lifts() {
        if (pending) { pending.abort(); }
        pending = new AbortController();
        var b = map.getBounds(), clamp = function (v, m) { return Math.max(-m, Math.min(m, v)); };
        var query = new URLSearchParams({
          min_lon: clamp(b.getWest(), 180), min_lat: clamp(b.getSouth(), 90),
          max_lon: clamp(b.getEast(), 180), max_lat: clamp(b.getNorth(), 90), max_points: 2000
        });
        load("/ui/map/data/lifts?" + query, pending.signal).then(function (data) {
          points.clearLayers();
          var layers = data.features.map(function (f) {
            var c = f.geometry.coordinates, p = f.properties, at = [c[1], c[0]];
            if (p.cluster) {
              // Too many for the browser: the server's grid cluster; zoom in to see them.
              var m = L.marker(at, { icon: L.divIcon({ className: "server-cluster", html: "", iconSize: [36, 36] }) });
              m.on("add", function () { m.getElement().textContent = p.count; });
              m.bindPopup(say(texts.cluster, { count: p.count }));
              return m;
            }
            var dot = L.circleMarker(at, {
              radius: 7, weight: 2, color: "#fff", fillColor: STATE[p.state] || STATE.ok, fillOpacity: 1,
              className: "lift lift-" + p.state
            });
            dot.bindPopup(function () { return liftPopup(p); });
            return dot;
          });
          points.addLayers(layers);
          status.textContent = say(texts.shown, { total: data.total });
          box.dataset.loaded = "true";
        }).catch(failed);
      }
      map.on("moveend", lifts);
      lifts();
    });
  }).catch(failed);

  // The ranking table sorts by any column (numbers descending first, names ascending).
  var table = document.getElementById("ranking");
  if (table) {
    table.querySelectorAll("button.sort").forEach(function (button, index) {
      button.addEventListener("click", function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var th = button.parentNode, was = th.getAttribute("aria-sort");
        var descending = index === 0 ? was === "ascending" : was !== "descending";
        var value = function (row) {
          var cell = row.cells[index].textContent.trim();
          return index === 0 ? cell : Number(cell);
        };
        rows.sort(function (a, b) {
          var x = value(a), y = value(b), order = index === 0 ? x.localeCompare(y, "zh-CN") : x - y;
          return descending ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        table.querySelectorAll("th[aria-sort]").forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      });
    });
  }
})();
