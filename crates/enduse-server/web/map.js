// The map page: asks POST /v1/map for the SVG of the decision over the
// region, then adds pan and zoom (by the SVG's viewBox), date sliders,
// layers drawn over the map (labels, control areas), a click for the
// decision at a point, and downloads. Offline: nothing but this server.
"use strict";
(function () {
  const view = document.getElementById("map-view");
  if (!view) return;
  const status = document.getElementById("map-status");
  const info = document.getElementById("point-info");
  const baseAsk = JSON.parse(view.dataset.ask || "{}");
  const cell = parseFloat(view.dataset.cell || "0.2");
  const ns = "http://www.w3.org/2000/svg";
  document.querySelectorAll(".js-only").forEach((e) => e.classList.add("js-on"));

  // The projection of the drawn SVG: the map may declare it on its root
  // (data-projection='{"lon0":..}'); otherwise that of enduse's map.
  const fallback = { lon0: 22.0, lat1: 56.5, lon1: 50.0, lat0: 43.5, k: 46.0, cos: 0.656, x0: 10.0, y0: 50.0 };
  let proj = fallback;
  const toXY = (lat, lon) => [proj.x0 + (lon - proj.lon0) * proj.cos * proj.k, proj.y0 + (proj.lat1 - lat) * proj.k];
  const toLatLon = (x, y) => [proj.lat1 - (y - proj.y0) / proj.k, proj.lon0 + (x - proj.x0) / (proj.cos * proj.k)];
  // enduse's map declares its projection on the SVG root (data-lon0,
  // data-lat1, data-x0, data-y0, data-px-per-degree, data-cos).
  function projectionOf(root) {
    const a = (n) => parseFloat(root.getAttribute("data-" + n));
    const p = { lon0: a("lon0"), lat1: a("lat1"), x0: a("x0"), y0: a("y0"), k: a("px-per-degree"), cos: a("cos") };
    // The drawn window's other corner (lat0, lon1) stays the fallback's:
    // the viewBox also holds the legend.
    return Object.values(p).some((v) => !isFinite(v)) ? fallback : Object.assign({}, fallback, p);
  }

  const labels = [
    ["Ukraine", 49.3, 31.2, "country"], ["Russia", 54.2, 42.0, "country"], ["Belarus", 53.4, 27.9, "country"],
    ["Poland", 52.6, 22.6, "country"], ["Moldova", 47.3, 28.4, "country"], ["Romania", 45.4, 25.0, "country"],
    ["Turkey", 44.1, 34.5, "country-sea"], ["Georgia", 42.2, 43.5, "country"],
    ["Kyiv", 50.45, 30.52, "city"], ["Kharkiv", 49.6, 36.6, "oblast"], ["Donetsk", 48.0, 37.8, "oblast"],
    ["Luhansk", 48.9, 39.3, "oblast"], ["Zaporizhzhia", 47.5, 35.6, "oblast"], ["Kherson", 46.7, 33.5, "oblast"],
    ["Crimea", 45.3, 34.2, "oblast"], ["Odesa", 46.8, 30.0, "oblast"], ["Mykolaiv", 47.4, 32.0, "oblast"],
    ["Dnipropetrovsk", 48.4, 34.8, "oblast"], ["Poltava", 49.6, 33.9, "oblast"], ["Sumy", 51.0, 34.2, "oblast"],
    ["Chernihiv", 51.4, 31.9, "oblast"], ["Zhytomyr", 50.5, 28.5, "oblast"], ["Lviv", 49.8, 24.0, "oblast"],
    ["Vinnytsia", 49.0, 28.6, "oblast"], ["Kursk", 52.05, 35.9, "oblast"], ["Belgorod", 50.7, 37.6, "oblast"],
    ["Bryansk", 53.0, 33.5, "oblast"], ["Voronezh", 51.0, 40.0, "oblast"], ["Rostov", 47.8, 41.0, "oblast"],
    ["Krasnodar", 45.3, 39.5, "oblast"], ["Moscow", 55.75, 37.6, "city"],
  ];
  let control = null;
  fetch("/static/control.json").then((r) => r.json()).then((c) => { control = c; drawOverlay(); }).catch(() => {});
  let areas = [];
  fetch("/v1/areas").then((r) => r.json()).then((r) => { areas = r.items || []; drawOverlay(); }).catch(() => {});

  // ---- dates and sliders
  const dayMs = 86400000;
  const parseDay = (s) => { const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || ""); return m ? Date.UTC(+m[1], +m[2] - 1, +m[3]) : null; };
  const fmt = (t) => new Date(t).toISOString().slice(0, 10);
  const asOfSlider = document.getElementById("as-of-slider");
  const knownSlider = document.getElementById("known-at-slider");
  const asOfOut = document.getElementById("as-of-out");
  const knownOut = document.getElementById("known-at-out");
  const asOfInput = document.getElementById("m-as-of");
  const knownInput = document.getElementById("m-known-at");
  function setupSlider(sl, value) {
    const first = parseDay(sl.dataset.first), last = parseDay(sl.dataset.last);
    sl.min = 0; sl.max = Math.round((last - first) / dayMs);
    const v = parseDay(value);
    sl.value = v === null ? sl.max : Math.round((Math.min(Math.max(v, first), last) - first) / dayMs);
    sl.dayOf = () => fmt(first + sl.valueAsNumber * dayMs);
  }
  const ask = Object.assign({}, baseAsk);
  for (const k of Object.keys(ask)) if (ask[k] === null || ask[k] === "") delete ask[k];
  setupSlider(asOfSlider, ask.as_of);
  setupSlider(knownSlider, ask.known_at);
  let timer = null;
  function onSlide(sl, out, input, key) {
    const d = sl.dayOf();
    out.textContent = d; input.value = d; ask[key] = d;
    clearTimeout(timer);
    timer = setTimeout(() => { draw(); if (lastPoint) decideAt(lastPoint[0], lastPoint[1]); }, 250);
  }
  asOfSlider.addEventListener("input", () => onSlide(asOfSlider, asOfOut, asOfInput, "as_of"));
  knownSlider.addEventListener("input", () => onSlide(knownSlider, knownOut, knownInput, "known_at"));

  // ---- the map
  let svg = null, full = null, vb = null, seq = 0;
  async function draw() {
    const n = ++seq;
    status.textContent = "Drawing the map for " + (ask.as_of || "today") + "…";
    view.setAttribute("aria-busy", "true");
    let r;
    try {
      r = await fetch("/v1/map", { method: "POST", headers: { "Content-Type": "application/json", "Accept": "image/svg+xml" }, body: JSON.stringify({ ask: ask, cell: cell }) });
    } catch (e) { status.textContent = "The map could not be drawn: " + e; return; }
    if (n !== seq) return; // a later drawing was asked for meanwhile
    const text = await r.text();
    if (!r.ok) {
      let p = {}; try { p = JSON.parse(text); } catch (e) { /* not a problem document */ }
      status.textContent = "Cannot draw the map: " + (p.detail || r.status) + (p.help ? " Help: " + p.help : "");
      status.classList.add("error-text");
      view.removeAttribute("aria-busy");
      return;
    }
    status.classList.remove("error-text");
    const doc = new DOMParser().parseFromString(text, "image/svg+xml");
    const root = doc.documentElement;
    if (root.nodeName !== "svg") { status.textContent = "The server sent no SVG."; return; }
    proj = projectionOf(root);
    const keep = vb && full ? vb.slice() : null;
    const fresh = document.importNode(root, true);
    fresh.removeAttribute("width"); fresh.removeAttribute("height");
    fresh.setAttribute("id", "map-svg");
    fresh.setAttribute("role", "img");
    fresh.setAttribute("aria-label", "Map of the decision: " + (root.querySelector("text") ? root.querySelector("text").textContent : ""));
    view.replaceChildren(fresh);
    svg = fresh;
    full = svg.getAttribute("viewBox").split(/[ ,]+/).map(Number);
    vb = keep || full.slice();
    setViewBox();
    drawOverlay();
    if (lastPoint) marker(lastPoint[0], lastPoint[1]);
    view.dataset.asOf = ask.as_of || "";
    view.removeAttribute("aria-busy");
    status.textContent = "Map drawn for " + (ask.as_of || "today") + ", public record of " + (ask.known_at || "today") + ".";
  }
  function setViewBox() { if (svg) svg.setAttribute("viewBox", vb.map((v) => v.toFixed(2)).join(" ")); }
  function zoom(f, cx, cy) {
    if (!vb) return;
    if (cx === undefined) { cx = vb[0] + vb[2] / 2; cy = vb[1] + vb[3] / 2; }
    const w = Math.min(full[2], Math.max(full[2] / 16, vb[2] / f));
    const h = w * full[3] / full[2];
    vb = [cx - (cx - vb[0]) * w / vb[2], cy - (cy - vb[1]) * h / vb[3], w, h];
    setViewBox();
  }
  function pan(dx, dy) { if (vb) { vb[0] += dx * vb[2]; vb[1] += dy * vb[3]; setViewBox(); } }
  function svgPoint(ev) {
    const pt = svg.createSVGPoint(); pt.x = ev.clientX; pt.y = ev.clientY;
    return pt.matrixTransform(svg.getScreenCTM().inverse());
  }
  document.getElementById("zoom-in").addEventListener("click", () => zoom(1.5));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(1 / 1.5));
  document.getElementById("zoom-reset").addEventListener("click", () => { vb = full.slice(); setViewBox(); });
  view.addEventListener("wheel", (ev) => { if (!svg) return; ev.preventDefault(); const p = svgPoint(ev); zoom(ev.deltaY < 0 ? 1.25 : 0.8, p.x, p.y); }, { passive: false });
  let drag = null;
  view.addEventListener("pointerdown", (ev) => { if (svg) drag = { x: ev.clientX, y: ev.clientY, moved: false }; });
  view.addEventListener("pointermove", (ev) => {
    if (!drag || !svg) return;
    const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 4) drag.moved = true;
    if (drag.moved) {
      const r = svg.getBoundingClientRect();
      vb[0] -= dx * vb[2] / r.width; vb[1] -= dy * vb[3] / r.height; setViewBox();
      drag.x = ev.clientX; drag.y = ev.clientY;
    }
  });
  view.addEventListener("pointerup", (ev) => {
    const d = drag; drag = null;
    if (!svg || (d && d.moved)) return;
    const p = svgPoint(ev);
    const [lat, lon] = toLatLon(p.x, p.y);
    if (lat < proj.lat0 || lat > proj.lat1 || lon < proj.lon0 || lon > proj.lon1) return;
    decideAt(lat, lon);
  });
  view.addEventListener("keydown", (ev) => {
    const k = ev.key;
    if (k === "+" || k === "=") zoom(1.5);
    else if (k === "-") zoom(1 / 1.5);
    else if (k === "ArrowLeft") pan(-0.1, 0);
    else if (k === "ArrowRight") pan(0.1, 0);
    else if (k === "ArrowUp") pan(0, -0.1);
    else if (k === "ArrowDown") pan(0, 0.1);
    else if (k === "Enter" && vb) { const [lat, lon] = toLatLon(vb[0] + vb[2] / 2, vb[1] + vb[3] / 2); decideAt(lat, lon); }
    else return;
    ev.preventDefault();
  });

  // ---- overlay: labels, control areas, named areas, the point
  function el(name, attrs, text) {
    const e = document.createElementNS(ns, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function inForce(a, day) {
    const from = (a.valid_from || "").split("..")[0];
    const to = a.valid_to ? a.valid_to.split("..")[0] : null;
    return (!from || from.length < 10 || from <= day) && (!to || day < to);
  }
  function drawOverlay() {
    if (!svg) return;
    let g = svg.querySelector("#enduse-overlay");
    if (g) g.remove();
    g = el("g", { id: "enduse-overlay" });
    const day = ask.as_of || new Date().toISOString().slice(0, 10);
    // A map that draws its own layers (groups with stable ids) is switched
    // group by group; the drawing below is for a map without them.
    const own = (id) => svg.querySelector("#" + id);
    const show = (ids, on) => ids.forEach((id) => { const e = own(id); if (e) e.style.display = on ? "" : "none"; });
    const hasOwn = !!(own("areas-control") || own("labels-countries"));
    show(["areas-control"], document.getElementById("layer-control").checked);
    show(["areas-named"], document.getElementById("layer-areas").checked);
    show(["labels-countries", "labels-subdivisions"], document.getElementById("layer-labels").checked);
    if (hasOwn) { svg.appendChild(g); return; }
    if (control && document.getElementById("layer-control").checked) {
      const cg = el("g", { id: "layer-control-g" });
      for (const a of control.areas || []) {
        if (!a.polygon || !inForce(a, day)) continue;
        const d = a.polygon.map((c, i) => { const [x, y] = toXY(c[1], c[0]); return (i ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1); }).join("") + "Z";
        const p = el("path", { d: d, fill: "none", stroke: "#000", "stroke-width": "1.4", "stroke-dasharray": "5 3" });
        p.appendChild(el("title", {}, a.id + ": controlled by " + a.controlled_by + (a.approximate ? " (approximate outline)" : "")));
        cg.appendChild(p);
      }
      // A key in the map's lower left corner, where the sea is.
      const [kx, ky] = toXY(proj.lat0 + 0.35, proj.lon0 + 0.3);
      cg.appendChild(el("rect", { x: (kx - 4).toFixed(1), y: (ky - 14).toFixed(1), width: "232", height: "20", fill: "#fff", "fill-opacity": "0.85" }));
      cg.appendChild(el("path", { d: "M" + kx.toFixed(1) + "," + (ky - 4).toFixed(1) + "h24", stroke: "#000", "stroke-width": "1.4", "stroke-dasharray": "5 3" }));
      cg.appendChild(el("text", { x: (kx + 30).toFixed(1), y: ky.toFixed(1), "font-size": "11", fill: "#000" }, "control area on this day (approximate)"));
      g.appendChild(cg);
    }
    if (document.getElementById("layer-areas").checked && areas.length) {
      const ag = el("g", { id: "layer-areas-g" });
      ag.appendChild(el("text", { x: "20", y: "80", "font-size": "11", fill: "#000" }, "Named areas: " + areas.map((a) => a.id).join(", ")));
      g.appendChild(ag);
    }
    if (document.getElementById("layer-labels").checked) {
      const lg = el("g", { id: "layer-labels-g" });
      for (const [name, lat, lon, kind] of labels) {
        const [x, y] = toXY(lat, lon);
        const big = kind.startsWith("country");
        lg.appendChild(el("text", { x: x.toFixed(1), y: y.toFixed(1), "text-anchor": "middle", "font-size": big ? "15" : "10", "font-weight": big ? "bold" : "normal", "letter-spacing": big ? "2" : "0", fill: "#111", stroke: "#fff", "stroke-width": big ? "3" : "2.2", "paint-order": "stroke", class: "lbl" }, big ? name.toUpperCase() : name));
      }
      g.appendChild(lg);
    }
    svg.appendChild(g);
  }
  ["layer-labels", "layer-control", "layer-areas"].forEach((id) => document.getElementById(id).addEventListener("change", drawOverlay));

  let lastPoint = null;
  function marker(lat, lon) {
    if (!svg) return;
    let m = svg.querySelector("#enduse-point");
    if (m) m.remove();
    const [x, y] = toXY(lat, lon);
    m = el("g", { id: "enduse-point" });
    m.appendChild(el("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: "6", fill: "#fff", stroke: "#000", "stroke-width": "2.5" }));
    m.appendChild(el("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: "2", fill: "#000" }));
    svg.appendChild(m);
  }
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  const words = { permit: "✓ PERMIT", forbid: "✕ FORBID", needs_approval: "! NEEDS APPROVAL", indeterminate: "? INDETERMINATE" };
  async function decideAt(lat, lon) {
    lat = Math.round(lat * 1000) / 1000; lon = Math.round(lon * 1000) / 1000;
    lastPoint = [lat, lon];
    marker(lat, lon);
    const at = lat + "," + lon;
    document.getElementById("point-at").value = at;
    info.innerHTML = "<p>Deciding at " + esc(at) + "…</p>";
    const q = Object.assign({}, ask, { at: at });
    const whereUrl = "/v1/where?at=" + encodeURIComponent(at) + (ask.as_of ? "&as_of=" + encodeURIComponent(ask.as_of) : "");
    const [w, d] = await Promise.all([
      fetch(whereUrl).then((r) => r.json()),
      fetch("/v1/decisions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(q) }).then((r) => r.json()),
    ]);
    if (!d.outcome) {
      info.innerHTML = '<div class="error" role="alert"><p><strong>Cannot answer:</strong> ' + esc(d.detail || "no answer") + "</p>" + (d.help ? "<p>Help: " + esc(d.help) + "</p>" : "") + "</div>";
      return;
    }
    const params = new URLSearchParams();
    for (const k of ["actor", "action", "model", "recipient", "target_class", "purpose", "as_of", "known_at"]) if (ask[k]) params.set(k, ask[k]);
    params.set("at", at);
    const rules = [];
    for (const p of d.parties || []) for (const r of p.rules || []) rules.push("<li><strong>" + esc(p.name) + "</strong>: " + esc(r.summary) + " <small>(" + esc(r.source.outlet) + ", " + esc(r.source.date) + (r.status !== "confirmed" ? ", " + esc(r.status) : "") + ")</small></li>");
    const needs = (d.approvals || []).map((a) => esc(a.authority_name) + " (" + esc(a.authority) + ")").join(" and ");
    const ctl = w.control ? "controlled by " + esc(w.control.controlled_by) + (w.control.area ? " (area " + esc(w.control.area) + (w.control.approximate ? ", approximate" : "") + ")" : "") : "";
    info.innerHTML =
      '<h3 class="verdict outcome-' + esc(d.outcome) + '"><span class="badge outcome-' + esc(d.outcome) + '" data-outcome="' + esc(d.outcome) + '">' + words[d.outcome] + "</span></h3>" +
      '<p class="where"><strong>' + esc(w.de_jure ? w.de_jure.name : "") + "</strong> (" + esc(w.de_jure ? (w.de_jure.subdivision || w.de_jure.country) : "") + "), " + ctl + "</p>" +
      '<p class="distance">' + esc(w.border_distance_km) + " km from the Ukraine-Russia land border · " + esc(at) + " · as of " + esc(d.as_of) + ", public record of " + esc(d.known_at) + "</p>" +
      (needs ? "<p>Needs approval by " + needs + ".</p>" : "") +
      (rules.length ? "<ul>" + rules.join("") + "</ul>" : "") +
      '<p><a href="/?' + esc(params.toString()) + '">The full answer, with sources and quotes</a></p>';
    info.dataset.outcome = d.outcome;
  }
  document.getElementById("point-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(document.getElementById("point-at").value);
    if (!m) { info.innerHTML = '<div class="error" role="alert"><p>Give the point as LAT,LON, e.g. 51.73,36.19.</p></div>'; return; }
    decideAt(parseFloat(m[1]), parseFloat(m[2]));
  });

  // ---- downloads
  function svgText() { return svg ? new XMLSerializer().serializeToString(svg) : ""; }
  function save(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  }
  const fileName = () => ["enduse", ask.actor, ask.action, ask.model, ask.as_of].filter(Boolean).join("-").replace(/[^A-Za-z0-9._-]+/g, "_");
  document.getElementById("download-svg").addEventListener("click", () => save(new Blob([svgText()], { type: "image/svg+xml" }), fileName() + ".svg"));
  document.getElementById("download-png").addEventListener("click", () => {
    if (!svg) return;
    const img = new Image();
    const w = full[2] * 2, h = full[3] * 2;
    const text = svgText().replace("<svg", '<svg width="' + w + '" height="' + h + '"');
    img.onload = () => {
      const c = document.createElement("canvas"); c.width = w; c.height = h;
      const ctx = c.getContext("2d"); ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h); ctx.drawImage(img, 0, 0, w, h);
      c.toBlob((b) => save(b, fileName() + ".png"), "image/png");
    };
    img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(text);
  });
  draw();
})();
