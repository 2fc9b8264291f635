// runvqgan gallery: 2 to 4 images side by side at one scale (each drawn at the same number
// of screen pixels per image pixel), with the settings that differ between them marked.
(function () {
  "use strict";
  var G = window.RVG;
  var $ = G.byId;
  var dialog = $("compare");
  var shown = [];

  var ROWS = [
    ["prompt", function (im) { return im.fields.text; }],
    ["style", function (im) { return im.style || "plain"; }],
    ["seed", function (im) { return im.seed || "none recorded"; }],
    ["iterations", function (im) { return im.iterations; }],
    ["size", function (im) { return im.size; }],
    ["model set", function (im) { return im.model; }],
    ["options (raw)", function (im) { return im.fields.raw || "none"; }],
    ["final loss", function (im) { return im.loss === null ? "not recorded" : im.loss.toFixed(4); }],
    ["member", function (im) { return im.folder; }],
    ["task", function (im) { return im.task; }],
    ["made", function (im) { return im.date; }]
  ];

  function place() {
    var box = $("compare-images");
    var n = shown.length;
    if (!n) { return; }
    var gap = 12;
    var col = (box.clientWidth - gap * (n - 1)) / n;
    var maxH = Math.max(160, window.innerHeight * 0.5);
    var scale = Infinity;
    shown.forEach(function (im) {
      scale = Math.min(scale, col / (im.w || 1), maxH / (im.h || 1));
    });
    var imgs = box.querySelectorAll("img");
    shown.forEach(function (im, i) {
      imgs[i].style.width = ((im.w || 1) * scale).toFixed(1) + "px";
      imgs[i].style.height = ((im.h || 1) * scale).toFixed(1) + "px";
    });
    box.setAttribute("data-scale", scale.toFixed(4));
  }

  G.compare = {
    open: function (images) {
      shown = images.slice(0, 4);
      var box = $("compare-images");
      box.replaceChildren();
      box.style.gridTemplateColumns = "repeat(" + shown.length + ", 1fr)";
      shown.forEach(function (im) {
        var fig = document.createElement("figure");
        var pic = document.createElement("img");
        pic.src = im.image;
        pic.alt = im.prompt;
        var cap = document.createElement("figcaption");
        cap.textContent = im.id;
        fig.appendChild(pic);
        fig.appendChild(cap);
        box.appendChild(fig);
      });
      var body = $("compare-table").tBodies[0];
      body.replaceChildren();
      ROWS.forEach(function (row) {
        var values = shown.map(function (im) { return String(row[1](im)); });
        var differs = values.some(function (v) { return v !== values[0]; });
        var tr = document.createElement("tr");
        tr.className = differs ? "differs" : "same";
        var th = document.createElement("th");
        th.textContent = row[0];
        if (differs) {
          var mark = document.createElement("span");
          mark.className = "differs-mark";
          mark.textContent = "differs";
          th.appendChild(mark);
        }
        tr.appendChild(th);
        values.forEach(function (v) {
          var td = document.createElement("td");
          td.textContent = v;
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      if (!dialog.open) { dialog.showModal(); }
      place();
    }
  };
  $("compare-close").addEventListener("click", function () { dialog.close(); });
  window.addEventListener("resize", function () { if (dialog.open) { place(); } });
}());
