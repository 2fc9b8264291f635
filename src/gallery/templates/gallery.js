// runvqgan gallery: search, filters, sort, favourites, the grid's paging, compare choice and
// the links to an image (#image=), in the page itself. The facts of every image come from
// data.js (window.RUNVQGAN_GALLERY). The URL keeps the search, filters and sort, so a view
// can be sent to someone.
(function () {
  "use strict";
  var G = window.RVG;
  var PAGE = 150;
  var FAV_KEY = "runvqgan-gallery-favourites";
  var data = window.RUNVQGAN_GALLERY || { images: [] };
  var fixedFolder = document.body.getAttribute("data-folder") || "";
  var $ = G.byId;
  var search = $("search");
  var folderSel = $("filter-folder");
  var modelSel = $("filter-model");
  var nightSel = $("filter-night");
  var sortSel = $("sort");
  var favBox = $("filter-fav");
  var cards = $("cards");
  var more = $("more");
  var count = $("count");
  var notice = $("notice");

  var all = data.images;
  var byId = {};
  all.forEach(function (im, i) {
    im.order = i;
    im.hay = G.fold([im.prompt, im.style, im.task, im.id, im.seed, im.folder].join(" \u0001 "));
    byId[im.id] = im;
  });
  var images = all.filter(function (im) { return !fixedFolder || im.folder === fixedFolder; });

  // Favourites, kept in this browser.
  var favs = {};
  try {
    (JSON.parse(localStorage.getItem(FAV_KEY) || "[]") || []).forEach(function (id) { favs[id] = true; });
  } catch (e) { favs = {}; }
  G.isFav = function (id) { return favs[id] === true; };
  G.toggleFav = function (id) {
    if (favs[id]) { delete favs[id]; } else { favs[id] = true; }
    try { localStorage.setItem(FAV_KEY, JSON.stringify(Object.keys(favs))); } catch (e) { /* private mode */ }
    var tiles = cards.querySelectorAll(".tile");
    for (var i = 0; i < tiles.length; i++) {
      if (tiles[i].getAttribute("data-id") === id) { markFav(tiles[i], favs[id] === true); }
    }
    if (favBox.checked) { apply(); }
  };
  function markFav(tile, on) {
    tile.classList.toggle("is-fav", on);
    tile.querySelector(".fav").setAttribute("aria-pressed", on ? "true" : "false");
  }

  // The images chosen for compare (2 to 4).
  var picked = [];
  function updatePicked() {
    $("compare-bar").hidden = picked.length === 0;
    $("compare-count").textContent = picked.length + " of at most 4 chosen" +
      (picked.length < 2 ? ": choose one more to compare" : "");
    $("compare-open").disabled = picked.length < 2;
    var tiles = cards.querySelectorAll(".tile");
    for (var i = 0; i < tiles.length; i++) {
      var on = picked.indexOf(tiles[i].getAttribute("data-id")) >= 0;
      tiles[i].classList.toggle("is-picked", on);
      tiles[i].querySelector(".pick input").checked = on;
    }
  }
  function togglePick(id) {
    var at = picked.indexOf(id);
    if (at >= 0) {
      picked.splice(at, 1);
    } else if (picked.length >= 4) {
      say("At most 4 images can be compared; clear one first.");
    } else {
      picked.push(id);
    }
    updatePicked();
  }

  function say(text, link) {
    notice.replaceChildren(document.createTextNode(text));
    if (link) {
      var a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.label;
      notice.appendChild(document.createTextNode(" "));
      notice.appendChild(a);
    }
    notice.hidden = !text;
  }

  // Sorting and the sections the grid is cut into.
  var SORTS = {
    newest: function (a, b) { return a.order - b.order; },
    oldest: function (a, b) { return a.night < b.night ? -1 : a.night > b.night ? 1 : a.time - b.time || b.order - a.order; },
    prompt: function (a, b) { var x = G.fold(a.prompt), y = G.fold(b.prompt); return x < y ? -1 : x > y ? 1 : b.time - a.time; },
    member: function (a, b) { return a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : a.order - b.order; },
    loss: function (a, b) {
      var x = a.loss === null ? Infinity : a.loss, y = b.loss === null ? Infinity : b.loss;
      return x - y || a.order - b.order;
    }
  };
  function sectionOf(im, sort) {
    if (sort === "newest" || sort === "oldest") { return "Night of " + im.night; }
    if (sort === "member") { return im.folder; }
    if (sort === "loss") { return im.loss === null ? "No final loss recorded" : "By final loss, lowest first"; }
    return "By prompt, A to Z";
  }

  function readURL() {
    var q = new URLSearchParams(location.search);
    search.value = q.get("q") || "";
    var set = function (sel, v) {
      if (sel && v && [].some.call(sel.options, function (o) { return o.value === v; })) { sel.value = v; }
    };
    set(folderSel, q.get("member"));
    set(modelSel, q.get("model"));
    set(nightSel, q.get("night"));
    set(sortSel, q.get("sort"));
    favBox.checked = q.get("fav") === "1";
  }
  function writeURL() {
    var q = new URLSearchParams();
    if (search.value) { q.set("q", search.value); }
    if (folderSel && folderSel.value) { q.set("member", folderSel.value); }
    if (modelSel.value) { q.set("model", modelSel.value); }
    if (nightSel.value) { q.set("night", nightSel.value); }
    if (sortSel.value !== "newest") { q.set("sort", sortSel.value); }
    if (favBox.checked) { q.set("fav", "1"); }
    var qs = q.toString();
    try {
      history.replaceState(history.state, "", location.pathname + (qs ? "?" + qs : "") + location.hash);
    } catch (e) { /* a browser that refuses it on file:// keeps the old address */ }
  }

  var matches = [];
  var shown = 0;
  var sections = [];
  G.matches = function () { return matches; };

  function apply() {
    var ws = G.fold(search.value).split(/\s+/).filter(function (w) { return w.length > 0; });
    var folder = folderSel ? folderSel.value : "";
    var model = modelSel.value;
    var night = nightSel.value;
    var fav = favBox.checked;
    matches = images.filter(function (im) {
      return (!folder || im.folder === folder) && (!model || im.model === model) &&
        (!night || im.night === night) && (!fav || favs[im.id]) &&
        ws.every(function (w) { return im.hay.indexOf(w) >= 0; });
    });
    matches.sort(SORTS[sortSel.value] || SORTS.newest);
    cards.replaceChildren();
    sections = [];
    shown = 0;
    showMore();
    writeURL();
  }

  function tile(im, first) {
    var el = G.clone("tile-template");
    G.fill(el, im);
    el.setAttribute("data-id", im.id);
    el.setAttribute("title", im.prompt + "\n" + im.folder + " · seed " + (im.seed || "?") +
      " · " + im.size + " · " + im.date + (im.loss === null ? "" : " · loss " + im.loss.toFixed(3)));
    var link = el.querySelector("a.open");
    link.href = "#image=" + encodeURIComponent(im.id);
    link.setAttribute("aria-label", "Open " + im.id);
    var img = el.querySelector("img.thumb");
    if (im.thumb) {
      img.src = im.thumb;
      img.alt = im.prompt;
    } else {
      img.remove();
      el.querySelector(".no-thumb").hidden = false;
    }
    if (first) {
      el.classList.add("task-start");
      var label = el.querySelector(".task-label");
      label.textContent = G.basename(im.task).replace(/\.txt$/, "");
      label.setAttribute("title", im.task);
      label.hidden = false;
    }
    el.querySelector(".video-mark").hidden = !im.video;
    link.addEventListener("click", function (ev) {
      ev.preventDefault();
      G.viewer.open(im, matches);
    });
    el.querySelector(".fav").addEventListener("click", function () { G.toggleFav(im.id); });
    el.querySelector(".pick input").addEventListener("change", function () { togglePick(im.id); });
    markFav(el, favs[im.id] === true);
    if (picked.indexOf(im.id) >= 0) {
      el.classList.add("is-picked");
      el.querySelector(".pick input").checked = true;
    }
    return el;
  }

  function showMore() {
    var end = Math.min(shown + PAGE, matches.length);
    var touched = [];
    var sort = sortSel.value;
    for (var i = shown; i < end; i++) {
      var im = matches[i];
      var title = sectionOf(im, sort);
      var sec = sections[sections.length - 1];
      if (!sec || sec.title !== title) {
        var el = G.clone("section-template");
        G.fill(el, { title: title });
        cards.appendChild(el);
        sec = { title: title, rows: el.querySelector(".rows"), items: [], lastTask: null };
        sections.push(sec);
      }
      var first = im.task !== sec.lastTask || sec.items.length === 0;
      sec.lastTask = im.task;
      sec.items.push({ el: tile(im, first), ratio: G.ratio(im) });
      if (touched.indexOf(sec) < 0) { touched.push(sec); }
    }
    touched.forEach(function (s) { G.layout(s.rows, s.items); });
    shown = end;
    more.hidden = shown >= matches.length;
    count.textContent = (matches.length === images.length
      ? "Showing " + shown + " of " + images.length + " images"
      : "Showing " + shown + " of " + matches.length + " matching images (" + images.length + " in all)") +
      (fixedFolder ? " in " + fixedFolder : "");
  }

  var timer = null;
  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 120);
  });
  [folderSel, modelSel, nightSel, sortSel, favBox].forEach(function (sel) {
    if (sel) { sel.addEventListener("change", apply); }
  });
  more.addEventListener("click", showMore);
  if ("IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; }) && !more.hidden) { showMore(); }
    }, { rootMargin: "800px" }).observe(more);
  }
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      sections.forEach(function (s) { G.layout(s.rows, s.items); });
    }, 80);
  });

  $("compare-open").addEventListener("click", function () {
    G.compare.open(picked.map(function (id) { return byId[id]; }).filter(Boolean));
  });
  $("compare-clear").addEventListener("click", function () { picked = []; updatePicked(); });
  $("new-task").addEventListener("click", function () { G.form.open(null); });
  $("export-fav").addEventListener("click", function () {
    var names = all.filter(function (im) { return favs[im.id]; }).map(function (im) { return im.id; });
    if (!names.length) {
      say("No favourites yet: mark images with the star first.");
      return;
    }
    var a = document.createElement("a");
    a.href = G.textURL("favourites", names.join("\n") + "\n");
    a.download = "favourites.txt";
    a.id = "export-link";
    document.body.appendChild(a);
    a.click();
    a.remove();
    say("Exported " + names.length + " favourite" + (names.length === 1 ? "" : "s") + " as favourites.txt (one image per line, relative to the shared folder).");
  });

  // A link to an image: #image=<path>, on load and whenever the address changes.
  function route() {
    var m = /^#image=(.*)$/.exec(location.hash);
    if (!m) { return; }
    var id;
    try { id = decodeURIComponent(m[1]); } catch (e) { id = m[1]; }
    var im = byId[id];
    if (!im) {
      G.viewer.close();
      say("There is no image " + JSON.stringify(id) + " in this gallery: it may have been renamed or removed since the gallery was built.");
    } else if (fixedFolder && im.folder !== fixedFolder) {
      G.viewer.close();
      say("The image " + id + " is in " + im.folder + ", not on this page.",
          { href: "index.html#image=" + encodeURIComponent(id), label: "Open it on All images." });
    } else {
      say("");
      G.viewer.open(im, matches.indexOf(im) >= 0 ? matches : images);
    }
  }
  window.addEventListener("hashchange", route);

  readURL();
  apply();
  route();
}());
