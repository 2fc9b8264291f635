// runvqgan gallery: the image viewer. Previous/next by buttons, arrow keys and swipe; Esc
// closes; zoom between fit and 1:1; download; the reproduce command for whoever views it
// (a member or the owner) with Copy; the final loss and its curve; the pictures that
// steered the image; its video (played with the PNG as poster) when it has one.
(function () {
  "use strict";
  var G = window.RVG;
  var $ = G.byId;
  var RUNAS_KEY = "runvqgan-gallery-run-as";
  var SVG = "http://www.w3.org/2000/svg";
  var dialog = $("viewer");
  var stage = $("viewer-stage");
  var img = stage.querySelector("img.full");
  var video = stage.querySelector("video.full");
  var runAs = $("run-as");
  var fixedFolder = document.body.getAttribute("data-folder") || "";
  var list = [];
  var at = -1;
  var current = null;
  var memberHelp = document.createDocumentFragment();
  [].forEach.call($("runas-help").childNodes, function (n) { memberHelp.appendChild(n.cloneNode(true)); });

  try { runAs.value = localStorage.getItem(RUNAS_KEY) === "owner" ? "owner" : "member"; } catch (e) { /* none kept */ }

  function command(im) {
    if (runAs.value === "owner") {
      $("runas-help").textContent = "As the owner: your own runvqgan.toml is used, and the new image goes beside the original under the next free number.";
      return im.reproduce_owner;
    }
    if (fixedFolder) {
      $("runas-help").textContent = "As " + fixedFolder + ": put a new name in place of NAME_1.png (it must not exist yet); the new image and its .txt go to " + fixedFolder + "/.";
      return im.reproduce_here;
    }
    $("runas-help").replaceChildren(memberHelp.cloneNode(true));
    return im.reproduce;
  }

  function drawCurve(svg, curve) {
    svg.replaceChildren();
    svg.style.display = curve.length > 1 ? "" : "none";
    if (curve.length < 2) { return; }
    var lo = Math.min.apply(null, curve), hi = Math.max.apply(null, curve);
    var span = hi - lo || 1;
    var pts = curve.map(function (v, i) {
      var x = 2 + (i * 156) / (curve.length - 1);
      var y = 3 + ((hi - v) * 34) / span;
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    var line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", pts.join(" "));
    line.setAttribute("class", "curve-line");
    var title = document.createElementNS(SVG, "title");
    title.textContent = "loss from " + curve[0].toFixed(3) + " to " + curve[curve.length - 1].toFixed(3) + " over the iterations";
    svg.appendChild(title);
    svg.appendChild(line);
  }

  function showInputs(im) {
    var box = $("viewer-inputs");
    var listEl = box.querySelector(".input-list");
    listEl.replaceChildren();
    box.hidden = !im.inputs.length;
    im.inputs.forEach(function (input) {
      var fig = document.createElement("figure");
      if (input.href) {
        var a = document.createElement("a");
        a.href = input.href;
        a.target = "_blank";
        a.rel = "noopener";
        var pic = document.createElement("img");
        pic.src = input.href;
        pic.alt = input.field + " " + input.path;
        a.appendChild(pic);
        fig.appendChild(a);
      }
      var cap = document.createElement("figcaption");
      cap.textContent = input.field + ": " + input.path;
      fig.appendChild(cap);
      listEl.appendChild(fig);
    });
  }

  function show(im) {
    current = im;
    G.fill(dialog, im);
    dialog.classList.remove("actual");
    $("viewer-zoom").setAttribute("aria-pressed", "false");
    $("viewer-zoom").textContent = "1:1";
    if (im.video) {
      img.hidden = true;
      img.removeAttribute("src");
      video.hidden = false;
      video.poster = im.image;
      video.src = im.video;
    } else {
      video.hidden = true;
      video.removeAttribute("src");
      video.load();
      img.hidden = false;
      img.src = im.image;
      img.alt = im.prompt;
    }
    var dl = $("viewer-download");
    dl.href = im.video || im.image;
    dl.setAttribute("download", G.basename(im.video || im.image));
    dl.textContent = im.video ? "Download the video" : "Download";
    dialog.querySelector("a.sidecar-link").href = im.sidecar;
    $("viewer-reproduce").textContent = command(im);
    $("copy-status").textContent = "";
    $("viewer-loss").textContent = im.loss === null ? "not recorded" : im.loss.toFixed(4);
    drawCurve($("viewer-curve"), im.curve || []);
    showInputs(im);
    var fav = G.isFav(im.id);
    $("viewer-fav").setAttribute("aria-pressed", fav ? "true" : "false");
    $("viewer-fav").textContent = fav ? "\u2605 Favourite" : "\u2606 Favourite";
    $("viewer-pos").textContent = at >= 0 ? (at + 1) + " of " + list.length : "";
    $("viewer-prev").disabled = at <= 0;
    $("viewer-next").disabled = at < 0 || at >= list.length - 1;
    try {
      history.replaceState(history.state, "", location.pathname + location.search + "#image=" + encodeURIComponent(im.id));
    } catch (e) { /* the address stays */ }
  }

  function step(delta) {
    if (!dialog.open || at < 0) { return; }
    var next = at + delta;
    if (next < 0 || next >= list.length) { return; }
    at = next;
    show(list[at]);
  }

  G.viewer = {
    open: function (im, within) {
      list = within || [];
      at = list.indexOf(im);
      show(im);
      if (!dialog.open) { dialog.showModal(); }
    },
    close: function () { if (dialog.open) { dialog.close(); } },
    step: step,
    current: function () { return current; }
  };

  dialog.addEventListener("close", function () {
    video.pause();
    try { history.replaceState(history.state, "", location.pathname + location.search); } catch (e) { /* stays */ }
  });
  $("viewer-close").addEventListener("click", G.viewer.close);
  $("viewer-prev").addEventListener("click", function () { step(-1); });
  $("viewer-next").addEventListener("click", function () { step(1); });
  $("viewer-zoom").addEventListener("click", function () {
    var actual = dialog.classList.toggle("actual");
    this.setAttribute("aria-pressed", actual ? "true" : "false");
    this.textContent = actual ? "Fit" : "1:1";
  });
  $("viewer-fav").addEventListener("click", function () {
    if (current) { G.toggleFav(current.id); show(current); }
  });
  $("viewer-like").addEventListener("click", function () {
    if (current) { G.form.open(current); }
  });
  runAs.addEventListener("change", function () {
    try { localStorage.setItem(RUNAS_KEY, runAs.value); } catch (e) { /* not kept */ }
    if (current) { $("viewer-reproduce").textContent = command(current); }
  });
  document.addEventListener("keydown", function (ev) {
    if (!dialog.open || ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(ev.target.tagName)) { return; }
    if (document.querySelector("dialog[open]:not(#viewer)")) { return; }
    if (ev.key === "ArrowLeft") { ev.preventDefault(); step(-1); }
    if (ev.key === "ArrowRight") { ev.preventDefault(); step(1); }
  });
  var touch = null;
  stage.addEventListener("touchstart", function (ev) {
    if (ev.touches.length === 1) { touch = { x: ev.touches[0].clientX, y: ev.touches[0].clientY }; }
  }, { passive: true });
  stage.addEventListener("touchend", function (ev) {
    if (!touch || !ev.changedTouches.length) { return; }
    var dx = ev.changedTouches[0].clientX - touch.x;
    var dy = ev.changedTouches[0].clientY - touch.y;
    touch = null;
    if (Math.abs(dx) > 50 && Math.abs(dx) > 1.5 * Math.abs(dy) && !dialog.classList.contains("actual")) {
      step(dx < 0 ? 1 : -1);
    }
  });

  // Copying: the clipboard API where the page may use it, else a selection and execCommand
  // (pages opened from file:// in some browsers).
  $("copy-reproduce").addEventListener("click", function () {
    var text = $("viewer-reproduce").textContent;
    var status = $("copy-status");
    var fallback = function () {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      dialog.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      area.remove();
      status.textContent = ok ? "Copied." : "Select the command above and copy it.";
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () { status.textContent = "Copied."; }, fallback);
    } else {
      fallback();
    }
  });
}());
