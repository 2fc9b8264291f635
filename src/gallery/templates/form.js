// runvqgan gallery: "Make a task like this", a task file form that works offline. Each field
// is checked as it is typed against the task file's JSON Schema (assets/task-schema.js,
// generated from runvqgan's own types, the rules of `runvqgan validate`) with ajv; the rules
// a schema cannot say are listed as checked when the night runs. The file is offered for
// download, to be saved into the member's own folder.
(function () {
  "use strict";
  var G = window.RVG;
  var $ = G.byId;
  var dialog = $("task-form");
  var form = $("task-fields");
  var spec = window.RUNVQGAN_TASK_SCHEMA;
  var AjvClass = window.ajv2020 && (window.ajv2020.default || window.ajv2020);
  var ajv = new AjvClass({ allErrors: true, strict: false });
  var checkAll = ajv.compile(spec.schema);
  var props = spec.schema.properties;
  var checks = {};
  Object.keys(props).forEach(function (f) { checks[f] = ajv.compile(props[f]); });
  var FIELDS = ["text", "style", "out_file", "out_folder", "iterations", "each", "resolution",
    "portrait", "seed", "in_file", "template_file", "raw"];

  var PATTERN = {
    text: "describe the picture; no control characters",
    style: "a style must not contain | ^ : or control characters",
    out_file: "a plain name: no / \\ < > : \" | ? * or \"..\", not starting with a dot or a space, not ending with a space",
    out_folder: "a folder inside the shared folder, written with / and without \"..\" (no drive letter, no leading /)",
    in_file: "a picture inside the shared folder, written with / (no drive letter, no leading /, no backslash)",
    template_file: "a picture inside the shared folder, written with / (no drive letter, no leading /, no backslash)",
    raw: "no line breaks or other control characters"
  };

  spec.night_only.forEach(function (rule) {
    var li = document.createElement("li");
    var code = document.createElement("code");
    code.textContent = rule.field;
    li.appendChild(code);
    li.appendChild(document.createTextNode(": " + rule.why));
    $("form-night").appendChild(li);
  });

  function value(name) { return form.elements[name].value; }
  // A number as typed: a whole number becomes a number; anything else stays text, which the
  // schema then refuses ("must be a whole number").
  function number(text) {
    var t = text.trim();
    if (t === "") { return undefined; }
    return /^-?\d+$/.test(t) ? Number(t) : t;
  }
  function set(obj, key, v) { if (v !== undefined && v !== "") { obj[key] = v; } }

  function task() {
    var t = {};
    set(t, "text", value("text"));
    if (value("style") !== "") { t.style = value("style").replace(/\r/g, "").split("\n"); }
    set(t, "iterations", number(value("iterations")));
    set(t, "out_file", value("out_file"));
    set(t, "out_folder", value("out_folder"));
    if (form.elements.portrait.checked) { t.portrait = true; }
    set(t, "each", number(value("each")));
    var w = number(value("res_w")), h = number(value("res_h"));
    if (w !== undefined || h !== undefined) { t.resolution = [w === undefined ? "" : w, h === undefined ? "" : h]; }
    set(t, "in_file", value("in_file"));
    set(t, "template_file", value("template_file"));
    set(t, "seed", number(value("seed")));
    set(t, "raw", value("raw"));
    return t;
  }

  // One sentence for a field's schema errors: the most telling one.
  function message(field, errors) {
    var pick = function (kw) { return errors.filter(function (e) { return e.keyword === kw; })[0]; };
    var e;
    if ((e = pick("minimum"))) { return "must be at least " + e.params.limit; }
    if ((e = pick("maximum"))) { return "must be at most " + e.params.limit; }
    if ((e = pick("maxLength"))) { return "at most " + e.params.limit + " characters"; }
    if ((e = pick("minLength"))) { return "must not be empty"; }
    if ((e = pick("maxItems")) && field === "style") { return "at most " + e.params.limit + " styles"; }
    if ((e = pick("pattern"))) { return PATTERN[field] || "not allowed here"; }
    if (field === "resolution") { return "two whole numbers, width and height"; }
    if (field === "portrait") { return "true or false"; }
    if (pick("type")) {
      return /^(iterations|each|seed)$/.test(field) ? "must be a whole number" : "not of the right kind";
    }
    return errors.length ? errors[0].message : "not valid";
  }

  function check() {
    var t = task();
    var bad = 0;
    FIELDS.forEach(function (f) {
      var label = form.querySelector('[data-field-name="' + f + '"]');
      var msg = "";
      if (!(f in t)) {
        if (spec.schema.required.indexOf(f) >= 0) { msg = "needed"; }
      } else if (!checks[f](t[f])) {
        msg = message(f, checks[f].errors || []);
      }
      label.classList.toggle("invalid", msg !== "");
      label.querySelector(".msg").textContent = msg;
      if (msg) { bad += 1; }
    });
    var ok = checkAll(t) && bad === 0;
    // Two spaces of indent, with two numbers on one line ("resolution": [450, 300]); a
    // line break never occurs inside a JSON string, so no text is touched.
    var text = JSON.stringify(t, null, 2).replace(/\[\n *(-?\d+),\n *(-?\d+)\n *\]/g, "[$1, $2]") + "\n";
    $("form-preview").textContent = text;
    var dl = $("form-download");
    var status = $("form-status");
    dialog.classList.toggle("is-valid", ok);
    if (ok) {
      var name = "task_" + String(t.out_file).replace(/[^A-Za-z0-9_-]+/g, "_") + ".txt";
      dl.href = G.textURL("task", text, "text/plain");
      dl.setAttribute("download", name);
      dl.removeAttribute("aria-disabled");
      status.textContent = "Valid by the rules of runvqgan validate. Save " + name + " into your own folder; the rules below are checked when the night runs.";
    } else {
      dl.removeAttribute("href");
      dl.setAttribute("aria-disabled", "true");
      status.textContent = bad + " field" + (bad === 1 ? " needs" : "s need") + " a fix before the file can be saved.";
    }
    return ok;
  }

  function fillFrom(fields) {
    form.reset();
    if (!fields) { return; }
    form.elements.text.value = fields.text || "";
    form.elements.style.value = fields.style || "";
    form.elements.out_file.value = fields.out_file || "";
    form.elements.iterations.value = fields.iterations === null ? "" : fields.iterations;
    form.elements.seed.value = fields.seed === null ? "" : fields.seed;
    if (fields.resolution) {
      form.elements.res_w.value = fields.resolution[0];
      form.elements.res_h.value = fields.resolution[1];
    }
    form.elements.in_file.value = fields.in_file || "";
    form.elements.template_file.value = fields.template_file || "";
    form.elements.raw.value = fields.raw || "";
  }

  G.form = {
    open: function (im) {
      fillFrom(im ? im.fields : null);
      $("form-title").textContent = im ? "Make a task like " + G.basename(im.id) : "Make a task";
      check();
      if (!dialog.open) { dialog.showModal(); }
    },
    check: check,
    task: task
  };
  form.addEventListener("input", check);
  form.addEventListener("change", check);
  $("form-close").addEventListener("click", function () { dialog.close(); });
}());
