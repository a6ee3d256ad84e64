// The app's one chart layer in the browser. cai_web/charts.py draws every chart as SVG
// with a "Data table" <details> under it (both readable without JavaScript); this
// script adds, to each svg.chart:
//   - hover: a guide at the pointer and every visible series' value there;
//   - legend: click (or Enter) on a series name hides or shows it;
//   - step charts: drag across the plot to zoom into those steps, double-click to reset.
// Charts whose marks carry their own values (labelling statistics, the editor's bars)
// get the same tooltip for the <title> of the mark under the pointer; the editor's
// legend hides a category. State (zoom, hidden series, an open data table) survives the
// htmx swaps of a polling run page or an editor change, keyed by the chart's id.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var state = {};
  var tip = null;

  function tooltip() {
    if (!tip) {
      tip = document.createElement("div");
      tip.className = "chart-tip";
      tip.setAttribute("role", "status");
      tip.hidden = true;
      document.body.appendChild(tip);
    }
    return tip;
  }

  function showTip(evt, html) {
    var t = tooltip();
    t.innerHTML = html;
    t.hidden = false;
    var x = evt.pageX + 14, y = evt.pageY + 14;
    var maxX = window.scrollX + document.documentElement.clientWidth - t.offsetWidth - 8;
    t.style.left = Math.max(window.scrollX + 4, Math.min(x, maxX)) + "px";
    t.style.top = y + "px";
  }

  function hideTip() { if (tip) tip.hidden = true; }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function fmt(v, format) {
    if (v === null || v === undefined) return "—";
    var a = Math.abs(v);
    var s = a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(3) : String(+v.toPrecision(4));
    return format && /%\}?$/.test(format) ? s + "%" : s;
  }

  // The same rule as cai_web.charts._ticks.
  function ticks(lo, hi, count) {
    count = count || 4;
    if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
    var raw = (hi - lo) / count, power = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (m) { return m * power; })
      .find(function (s) { return s >= raw; });
    var out = [Math.floor(lo / step + 1e-9) * step];
    while (out[out.length - 1] < hi - 1e-12) out.push(+(out[out.length - 1] + step).toFixed(10));
    return out;
  }

  function intTicks(lo, hi) {
    if (hi <= lo) return [lo];
    var raw = (hi - lo) / 6, power = raw >= 1 ? Math.pow(10, Math.floor(Math.log10(raw))) : 1;
    var step = Math.max(1, [1, 2, 5, 10].map(function (m) { return m * power; })
      .find(function (s) { return s >= raw; }));
    var out = [lo];
    for (var t = Math.ceil(lo / step) * step; t < hi; t += step) {
      if (t - lo >= step * 0.4 && hi - t >= step * 0.4) out.push(t);
    }
    out.push(hi);
    return out;
  }

  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function point(svg, evt) {
    var p = svg.createSVGPoint();
    p.x = evt.clientX; p.y = evt.clientY;
    return p.matrixTransform(svg.getScreenCTM().inverse());
  }

  function keyOf(svg) {
    var holder = svg.closest("[id]");
    return (holder ? holder.id : "") + "|" + (svg.getAttribute("aria-label") || "");
  }

  function seriesColor(svg, i) {
    var sw = svg.querySelector('.legend-item[data-series="' + i + '"] rect');
    return sw ? sw.getAttribute("fill") : "#2457c5";
  }

  function applyHidden(svg, st) {
    svg.querySelectorAll(".series").forEach(function (g) {
      g.style.display = st.hidden[g.dataset.series] ? "none" : "";
    });
    svg.querySelectorAll(".legend-item").forEach(function (g) {
      var off = !!st.hidden[g.dataset.series];
      g.style.opacity = off ? 0.35 : 1;
      g.setAttribute("aria-pressed", off ? "false" : "true");
    });
  }

  // --- step charts: redraw axes and lines for the zoomed step range ---------------
  function drawSteps(svg, spec, st) {
    var plot = spec.plot, left = plot[0], top = plot[1], w = plot[2], h = plot[3];
    var all = [];
    spec.series.forEach(function (s) { s.points.forEach(function (p) { all.push(p[0]); }); });
    if (!all.length) return;
    var a = st.zoom ? st.zoom[0] : Math.min.apply(null, all);
    var b = st.zoom ? st.zoom[1] : Math.max.apply(null, all);
    var vals = [];
    spec.series.forEach(function (s, i) {
      if (st.hidden[i]) return;
      s.points.forEach(function (p) { if (p[0] >= a && p[0] <= b) vals.push(p[1]); });
    });
    if (!vals.length) vals = [0, 1];
    var yt = ticks(Math.min.apply(null, vals), Math.max.apply(null, vals));
    var lo = yt[0], hi = yt[yt.length - 1];
    function x(s) { return left + (b > a ? w * (s - a) / (b - a) : w / 2); }
    function y(v) { return top + h - h * (v - lo) / ((hi - lo) || 1); }
    st.scale = { a: a, b: b, x: x, y: y };
    var yAxis = svg.querySelector(".y-axis"), xAxis = svg.querySelector(".x-axis");
    yAxis.replaceChildren();
    yt.forEach(function (t) {
      yAxis.appendChild(el("line", { x1: left, x2: left + w, y1: y(t), y2: y(t), stroke: "#e5e7eb" }));
      yAxis.appendChild(el("text", { x: left - 6, y: y(t) + 4, "text-anchor": "end", fill: "#5f6b76" },
        String(+t.toPrecision(4))));
    });
    xAxis.replaceChildren();
    intTicks(Math.round(a), Math.round(b)).forEach(function (t) {
      xAxis.appendChild(el("line", { x1: x(t), x2: x(t), y1: top + h, y2: top + h + 4, stroke: "#5f6b76" }));
      xAxis.appendChild(el("text", { x: x(t), y: top + h + 16, "text-anchor": "middle", fill: "#5f6b76" }, String(t)));
    });
    spec.series.forEach(function (s, i) {
      var g = svg.querySelector('.series[data-series="' + i + '"]');
      if (!g) return;
      var color = seriesColor(svg, i);
      var pts = s.points.filter(function (p) { return p[0] >= a && p[0] <= b; });
      g.replaceChildren();
      if (pts.length > 1) {
        g.appendChild(el("polyline", {
          points: pts.map(function (p) { return x(p[0]).toFixed(1) + "," + y(p[1]).toFixed(1); }).join(" "),
          fill: "none", stroke: color, "stroke-width": 2,
        }));
      }
      (pts.length <= 30 ? pts : pts.slice(-1)).forEach(function (p) {
        g.appendChild(el("circle", { class: "dot", cx: x(p[0]), cy: y(p[1]), r: 3, fill: color }));
      });
    });
    var note = svg.querySelector(".zoom-note");
    if (st.zoom && !note) {
      note = el("text", { class: "zoom-note", x: left + w, y: 14, "text-anchor": "end", fill: "#5f6b76" });
      svg.appendChild(note);
    }
    if (note) note.textContent = st.zoom ? "steps " + Math.round(a) + "–" + Math.round(b) + " · double-click to reset" : "";
  }

  function nearest(points, step) {
    var best = null;
    points.forEach(function (p) { if (best === null || Math.abs(p[0] - step) < Math.abs(best[0] - step)) best = p; });
    return best;
  }

  function guide(svg, spec, x) {
    var g = svg.querySelector("line.guide");
    if (!g) {
      g = el("line", { class: "guide", stroke: "#1d232a", "stroke-dasharray": "3 3", "pointer-events": "none" });
      svg.appendChild(g);
    }
    g.setAttribute("x1", x); g.setAttribute("x2", x);
    g.setAttribute("y1", spec.plot[1]); g.setAttribute("y2", spec.plot[1] + spec.plot[3]);
    g.style.display = "";
    return g;
  }

  function hoverDots(svg, dots) {
    svg.querySelectorAll(".hover-dot").forEach(function (d) { d.remove(); });
    dots.forEach(function (d) {
      svg.appendChild(el("circle", { class: "hover-dot", cx: d[0], cy: d[1], r: 5, fill: "none",
        stroke: d[2], "stroke-width": 2, "pointer-events": "none" }));
    });
  }

  function clearHover(svg) {
    hideTip();
    var g = svg.querySelector("line.guide");
    if (g) g.style.display = "none";
    hoverDots(svg, []);
  }

  function enhanceLegend(svg, spec, st) {
    svg.querySelectorAll(".legend-item").forEach(function (item) {
      item.style.cursor = "pointer";
      item.setAttribute("tabindex", "0");
      item.setAttribute("role", "button");
      var toggle = function () {
        var i = item.dataset.series;
        st.hidden[i] = !st.hidden[i];
        applyHidden(svg, st);
        if (spec.type === "steps") drawSteps(svg, spec, st);
      };
      item.addEventListener("click", toggle);
      item.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
      });
    });
  }

  function enhanceData(svg, spec, st) {
    var plot = spec.plot;
    enhanceLegend(svg, spec, st);
    var drag = null, band = null;
    svg.addEventListener("mousemove", function (evt) {
      var p = point(svg, evt);
      if (p.x < plot[0] - 4 || p.x > plot[0] + plot[2] + 4 || p.y < plot[1] - 10 || p.y > plot[1] + plot[3] + 4) {
        clearHover(svg);
        return;
      }
      if (drag !== null && band) {
        band.setAttribute("x", Math.min(drag, p.x));
        band.setAttribute("width", Math.abs(p.x - drag));
      }
      var rows = [], head, dots = [], gx;
      if (spec.type === "steps") {
        var sc = st.scale, step = sc.a + (sc.b - sc.a) * (p.x - plot[0]) / plot[2];
        var near = null;
        spec.series.forEach(function (s, i) {
          if (st.hidden[i]) return;
          var q = nearest(s.points.filter(function (pt) { return pt[0] >= sc.a && pt[0] <= sc.b; }), step);
          if (q && (near === null || Math.abs(q[0] - step) < Math.abs(near - step))) near = q[0];
        });
        if (near === null) return clearHover(svg);
        head = "step " + near;
        spec.series.forEach(function (s, i) {
          if (st.hidden[i]) return;
          var q = nearest(s.points, near);
          if (!q) return;
          var c = seriesColor(svg, i);
          rows.push([c, s.name + (q[0] !== near ? " (step " + q[0] + ")" : ""), fmt(q[1])]);
          dots.push([sc.x(q[0]), sc.y(q[1]), c]);
        });
        gx = sc.x(near);
      } else {
        var idx = 0;
        spec.xs.forEach(function (x, i) { if (Math.abs(x - p.x) < Math.abs(spec.xs[idx] - p.x)) idx = i; });
        head = spec.labels[idx];
        spec.series.forEach(function (s, i) {
          if (st.hidden[i]) return;
          rows.push([seriesColor(svg, i), s.name, fmt(s.values[idx], spec.format)]);
        });
        gx = spec.xs[idx];
      }
      guide(svg, spec, gx);
      hoverDots(svg, dots);
      showTip(evt, "<strong>" + esc(head) + "</strong>" + rows.map(function (r) {
        return '<div><span class="swatch" style="background:' + esc(r[0]) + '"></span>' +
          esc(r[1]) + ": <strong>" + esc(r[2]) + "</strong></div>";
      }).join(""));
    });
    svg.addEventListener("mouseleave", function () { clearHover(svg); drag = null; if (band) band.remove(); band = null; });
    if (spec.type !== "steps") return;
    svg.style.cursor = "crosshair";
    svg.addEventListener("mousedown", function (evt) {
      var p = point(svg, evt);
      if (p.x < plot[0] || p.x > plot[0] + plot[2]) return;
      evt.preventDefault();
      drag = p.x;
      band = el("rect", { class: "zoom-band", x: p.x, y: plot[1], width: 0, height: plot[3],
        fill: "#2457c5", "fill-opacity": 0.12, "pointer-events": "none" });
      svg.appendChild(band);
    });
    svg.addEventListener("mouseup", function (evt) {
      if (drag === null) return;
      var p = point(svg, evt), sc = st.scale;
      var x0 = Math.min(drag, p.x), x1 = Math.max(drag, p.x);
      drag = null;
      if (band) band.remove();
      band = null;
      if (x1 - x0 < 6) return;
      var a = sc.a + (sc.b - sc.a) * (x0 - plot[0]) / plot[2];
      var b = sc.a + (sc.b - sc.a) * (x1 - plot[0]) / plot[2];
      if (Math.round(b) - Math.round(a) < 1) return;
      st.zoom = [Math.max(sc.a, Math.round(a)), Math.min(sc.b, Math.round(b))];
      drawSteps(svg, spec, st);
    });
    svg.addEventListener("dblclick", function () { st.zoom = null; drawSteps(svg, spec, st); });
  }

  function enhanceTitles(svg) {
    svg.addEventListener("mousemove", function (evt) {
      var t = evt.target, title = null;
      while (t && t !== svg && !title) {
        title = Array.prototype.find.call(t.children || [], function (c) { return c.tagName === "title"; });
        t = t.parentNode;
      }
      if (title && title.parentNode !== svg) showTip(evt, esc(title.textContent));
      else hideTip();
    });
    svg.addEventListener("mouseleave", hideTip);
  }

  // The data table under the chart stays open across swaps once a reader opened it.
  function keepTableOpen(svg, st) {
    var layer = svg.parentNode;
    var details = layer && layer.classList && layer.classList.contains("chart-layer")
      ? layer.querySelector("details.chart-data") : null;
    if (!details) return;
    if (st.tableOpen) details.open = true;
    details.addEventListener("toggle", function () { st.tableOpen = details.open; });
  }

  function enhance(svg) {
    if (svg.dataset.enhanced) return;
    svg.dataset.enhanced = "1";
    var key = keyOf(svg);
    var st = state[key] || (state[key] = { hidden: {}, zoom: null, tableOpen: false });
    keepTableOpen(svg, st);
    var spec = null;
    if (svg.dataset.chart) {
      try { spec = JSON.parse(svg.dataset.chart); } catch (e) { spec = null; }
    }
    if (!spec) return enhanceTitles(svg);
    if (spec.type === "marks") {  // marks titled with their values: a legend, title tooltips
      applyHidden(svg, st);
      enhanceLegend(svg, spec, st);
      return enhanceTitles(svg);
    }
    if (spec.type === "steps") drawSteps(svg, spec, st);
    applyHidden(svg, st);
    enhanceData(svg, spec, st);
  }

  function enhanceAll(root) {
    (root || document).querySelectorAll("svg.chart").forEach(enhance);
  }

  window.caiCharts = { enhanceAll: enhanceAll, ticks: ticks };
  document.addEventListener("DOMContentLoaded", function () { enhanceAll(document); });
  document.addEventListener("htmx:afterSettle", function () { hideTip(); enhanceAll(document); });
})();
