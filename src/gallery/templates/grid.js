// runvqgan gallery: helpers shared by the page's scripts, and the justified grid (rows of
// thumbnails at their own aspect ratio, stretched to fill the width, like a photo library).
// Everything is filled in with textContent or attributes, never with HTML.
(function () {
  "use strict";
  var G = window.RVG = window.RVG || {};

  G.byId = function (id) { return document.getElementById(id); };

  // Copies each [data-field] of root from obj (textContent; data-empty when empty).
  G.fill = function (root, obj) {
    var fields = root.querySelectorAll("[data-field]");
    for (var i = 0; i < fields.length; i++) {
      var el = fields[i];
      var value = obj[el.getAttribute("data-field")];
      var text = value === null || value === undefined ? "" : String(value);
      el.textContent = text || el.getAttribute("data-empty") || "";
    }
  };

  G.clone = function (id) {
    return G.byId(id).content.firstElementChild.cloneNode(true);
  };

  // Lower case without accents: "Café" and "cafe" meet.
  G.fold = function (text) {
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  };

  G.basename = function (path) {
    return String(path).split("/").pop();
  };

  // A text file offered for download (an object URL; the previous one of `key` is freed).
  var urls = {};
  G.textURL = function (key, text, type) {
    if (urls[key]) { URL.revokeObjectURL(urls[key]); }
    urls[key] = URL.createObjectURL(new Blob([text], { type: type || "text/plain" }));
    return urls[key];
  };

  G.GAP = 4;
  // The row height aimed at for a width: small on a phone, larger on a 4K screen.
  G.targetHeight = function (width) {
    if (width < 520) { return 92; }
    if (width < 900) { return 124; }
    if (width > 2800) { return 250; }
    if (width > 1900) { return 200; }
    return 150;
  };

  G.ratio = function (im) {
    var r = (im.w || 1) / (im.h || 1);
    return Math.min(4, Math.max(0.25, r));
  };

  // Lays the tiles `items` ([{el, ratio}]) into justified rows inside `rows`: each full row
  // is scaled to the width exactly; the last row keeps the aimed height.
  G.layout = function (rows, items) {
    var width = rows.clientWidth;
    if (!width) { return; }
    var target = G.targetHeight(width);
    var gap = G.GAP;
    var frag = document.createDocumentFragment();
    var row = [];
    var sum = 0;
    var flush = function (last) {
      var div = document.createElement("div");
      div.className = "row";
      var room = width - gap * (row.length - 1) - 0.5;
      var height = last ? Math.min(target, room / sum) : room / sum;
      row.forEach(function (it) {
        it.el.style.width = (it.ratio * height).toFixed(2) + "px";
        it.el.classList.toggle("narrow", it.ratio * height < 90);
        it.el.style.height = height.toFixed(2) + "px";
        div.appendChild(it.el);
      });
      frag.appendChild(div);
      row = [];
      sum = 0;
    };
    items.forEach(function (it) {
      row.push(it);
      sum += it.ratio;
      if (sum * target + gap * (row.length - 1) >= width) { flush(false); }
    });
    if (row.length) { flush(true); }
    rows.replaceChildren(frag);
  };
}());
