// runvqgan gallery: search, filters, paging and the image view, in the page itself.
// The facts of every image come from data.js (window.RUNVQGAN_GALLERY); cards are copies
// of the page's <template> elements filled with textContent, never with HTML.
(function () {
  "use strict";

  var PAGE = 60;
  var data = window.RUNVQGAN_GALLERY || { images: [] };
  var fixedFolder = document.body.getAttribute("data-folder") || "";
  var byId = function (id) { return document.getElementById(id); };
  var search = byId("search");
  var folderSel = byId("filter-folder");
  var modelSel = byId("filter-model");
  var nightSel = byId("filter-night");
  var cards = byId("cards");
  var more = byId("more");
  var count = byId("count");
  var viewer = byId("viewer");

  var images = data.images.filter(function (im) {
    return !fixedFolder || im.folder === fixedFolder;
  });
  images.forEach(function (im) {
    im.haystack = (im.prompt + " " + im.style).toLowerCase();
  });

  var matches = [];
  var shown = 0;
  var lastNight = null;
  var lastTask = null;
  var grid = null;
  var section = null;

  function fill(root, im) {
    var fields = root.querySelectorAll("[data-field]");
    for (var i = 0; i < fields.length; i++) {
      var el = fields[i];
      var value = im[el.getAttribute("data-field")];
      el.textContent = value ? String(value) : (el.getAttribute("data-empty") || "");
    }
  }

  function clone(id) {
    return byId(id).content.firstElementChild.cloneNode(true);
  }

  function words(text) {
    return text.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
  }

  function applyFilters() {
    var ws = words(search.value);
    var folder = folderSel ? folderSel.value : "";
    var model = modelSel.value;
    var night = nightSel.value;
    matches = images.filter(function (im) {
      return (!folder || im.folder === folder) &&
        (!model || im.model === model) &&
        (!night || im.night === night) &&
        ws.every(function (w) { return im.haystack.indexOf(w) >= 0; });
    });
    cards.replaceChildren();
    shown = 0;
    lastNight = null;
    lastTask = null;
    showMore();
  }

  function addCard(im) {
    if (im.night !== lastNight) {
      section = clone("night-template");
      fill(section, im);
      cards.appendChild(section);
      lastNight = im.night;
      lastTask = null;
    }
    if (im.task !== lastTask) {
      var task = clone("task-template");
      fill(task, im);
      section.appendChild(task);
      grid = task.querySelector(".grid");
      lastTask = im.task;
    }
    var card = clone("card-template");
    fill(card, im);
    card.setAttribute("data-id", im.id);
    var link = card.querySelector("a.open");
    link.href = "#image=" + encodeURIComponent(im.id);
    link.setAttribute("aria-label", "Open " + im.id);
    var img = card.querySelector("img.thumb");
    if (im.thumb) {
      img.src = im.thumb;
      img.alt = im.prompt;
    } else {
      img.remove();
      card.querySelector(".no-thumb").hidden = false;
    }
    link.addEventListener("click", function (ev) {
      ev.preventDefault();
      open(im);
    });
    grid.appendChild(card);
  }

  function showMore() {
    var end = Math.min(shown + PAGE, matches.length);
    for (var i = shown; i < end; i++) {
      addCard(matches[i]);
    }
    shown = end;
    more.hidden = shown >= matches.length;
    count.textContent = matches.length === images.length
      ? "Showing " + shown + " of " + images.length + " images"
      : "Showing " + shown + " of " + matches.length + " matching images (" + images.length + " in all)";
  }

  function open(im) {
    fill(viewer, im);
    var full = viewer.querySelector("img.full");
    full.src = im.image;
    full.alt = im.prompt;
    viewer.querySelector("a.full-link").href = im.image;
    viewer.querySelector("a.sidecar-link").href = im.sidecar;
    byId("copy-status").textContent = "";
    history.replaceState(null, "", "#image=" + encodeURIComponent(im.id));
    if (!viewer.open) {
      viewer.showModal();
    }
  }

  function close() {
    if (viewer.open) {
      viewer.close();
    }
  }

  viewer.addEventListener("close", function () {
    history.replaceState(null, "", location.pathname + location.search);
  });
  byId("viewer-close").addEventListener("click", close);
  viewer.addEventListener("click", function (ev) {
    if (ev.target === viewer) {
      close();
    }
  });

  // Copying: the clipboard API where the page may use it, else a selection and execCommand
  // (pages opened from file:// in some browsers).
  byId("copy-reproduce").addEventListener("click", function () {
    var text = byId("viewer-reproduce").textContent;
    var status = byId("copy-status");
    var fallback = function () {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      viewer.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      area.remove();
      status.textContent = ok ? "Copied." : "Select the command above and copy it.";
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(function () {
        status.textContent = "Copied.";
      }, fallback);
    } else {
      fallback();
    }
  });

  var timer = null;
  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(applyFilters, 120);
  });
  [folderSel, modelSel, nightSel].forEach(function (sel) {
    if (sel) {
      sel.addEventListener("change", applyFilters);
    }
  });
  more.addEventListener("click", showMore);
  if ("IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; }) && !more.hidden) {
        showMore();
      }
    }, { rootMargin: "600px" }).observe(more);
  }

  applyFilters();
  var m = /^#image=(.+)$/.exec(location.hash);
  if (m) {
    var id = decodeURIComponent(m[1]);
    var hit = images.filter(function (im) { return im.id === id; })[0];
    if (hit) {
      open(hit);
    }
  }
}());
