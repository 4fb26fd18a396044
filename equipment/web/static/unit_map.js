// A unit's position on a small Leaflet map. No tiles (the pages work offline): the
// district's outline from the register's imported areas is the base, the unit a point.
(function () {
  "use strict";
  var holder = document.getElementById("unit-map");
  var data = document.getElementById("unit-point");
  if (!holder || !data || typeof L === "undefined") return;
  var point = JSON.parse(data.textContent);
  var map = L.map(holder, { attributionControl: false });
  var here = L.latLng(point.lat, point.lon);
  L.circleMarker(here, { radius: 8, color: "#a4161a", weight: 3, fillOpacity: 0.8 }).addTo(map);
  if (point.outline) {
    var outline = L.geoJSON(point.outline, { style: { color: "#0b3d6e", weight: 2, fillOpacity: 0.05 } }).addTo(map);
    map.fitBounds(outline.getBounds(), { padding: [8, 8] });
  } else {
    map.setView(here, 15);
  }
})();
