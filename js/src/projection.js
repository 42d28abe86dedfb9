// ProjectionView: a regl-scatterplot (WebGL) of 2-D positions sent as binary buffers.
//
// Per point the kernel sends x, y (float32) and a colour category (uint8). Texts are fetched
// on demand (hover, lists). Selection is two-way through the `selected` trait; a click asks the
// kernel for neighbours (`focused` -> `neighbors`); the query box sets `query` and the kernel
// answers with `query_hits`. Points that are images (`image_mask`) get thumbnails from the
// kernel, as binary, on demand: in the tooltip, in the hit lists, and in place of dots when
// `thumbnails` is on and the view is zoomed in far enough that they fit.
import createScatterplot from "regl-scatterplot";
import {
  categoryLegend,
  el,
  fmt,
  placeTip,
  queryInput,
  requester,
  textCache,
  thumbCache,
  thumbImage,
  typed,
} from "./common.js";
import { colorBar, numericColors } from "./colormap.js";
import { drawContours } from "./contours.js";
import { labelLayer } from "./labels.js";
import { mountSelectionTable } from "./table.js";

const FOCUS_COLOR = "#d62728";
const NEIGHBOR_COLOR = "#ff7f0e";
const QUERY_COLOR = "#9c27b0";
// Thumbnails replace dots only when they fit: at most this many image points visible, and
// their median distance to the nearest visible neighbour at least this many CSS pixels
// (zoom in to get there). They are drawn at 90% of that distance, between the two sizes.
const MAX_VISIBLE_THUMBS = 150;
const MIN_THUMB_SPACING = 28;
const THUMB_MIN = 24;
const THUMB_MAX = 80;

function pointSizeFor(n) {
  if (n <= 2_000) return 6;
  if (n <= 20_000) return 4;
  if (n <= 200_000) return 2.5;
  return 1.5;
}

// Points that do not match the filter box are drawn in their colour faded this far to white.
const DIM_TO_WHITE = 0.85;

function dimmed(hex) {
  const v = parseInt(hex.slice(1, 7), 16);
  const mix = (c) => Math.round(c + (255 - c) * DIM_TO_WHITE);
  const rgb = [(v >> 16) & 255, (v >> 8) & 255, v & 255].map(mix);
  return `#${rgb.map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}

function checkbox(className, text, title) {
  const label = el("label", `enb-toggle ${className}`);
  const box = el("input");
  box.type = "checkbox";
  box.title = title;
  label.append(box, document.createTextNode(` ${text}`));
  return [label, box];
}

function render({ model, el: host }) {
  const request = requester(model);
  const texts = textCache(request);
  const thumbs = thumbCache(request);
  let mask = typed(model.get("image_mask"), Uint8Array);
  const hasImage = (i) => i < mask.length && mask[i] === 1;

  // --- DOM --------------------------------------------------------------------------------
  const root = el("div", "enb-root enb-proj");
  const bar = el("div", "enb-proj-bar");
  const search = queryInput(model, "Search: text is embedded in the kernel (Enter)");
  const colorSelect = el("select", "enb-color-by");
  colorSelect.title = "colour by";
  const sizeSelect = el("select", "enb-size-by");
  sizeSelect.title = "size by";
  const filterBox = el("input", "enb-filter");
  filterBox.type = "search";
  filterBox.placeholder = "Filter: text, or column=value";
  filterBox.title = "dim the points that do not match (text contained in the point, or column=value); Escape clears";
  filterBox.value = model.get("filter");
  const filterInfo = el("span", "enb-note enb-filter-info");
  const [labelToggle, labelBox] = checkbox("enb-label-toggle", "labels", "cluster labels on the map");
  const [contourToggle, contourBox] = checkbox("enb-contour-toggle", "contours", "density contours");
  const clear = el("button", "enb-clear", "Clear selection");
  const status = el("span", "enb-note enb-status");
  const thumbToggle = el("label", "enb-thumb-toggle");
  const thumbBox = el("input");
  thumbBox.type = "checkbox";
  thumbBox.title = "draw thumbnails in place of dots when zoomed in far enough";
  thumbToggle.append(thumbBox, document.createTextNode(" thumbnails"));
  const progress = el("div", "enb-progress");
  const progressFill = el("div");
  progress.append(progressFill);
  bar.append(search, filterBox, filterInfo, colorSelect, sizeSelect, labelToggle, contourToggle, thumbToggle, clear, progress, status);
  const legend = el("div", "enb-legend-row");
  const body = el("div", "enb-proj-body");
  const stage = el("div", "enb-proj-stage");
  const canvas = el("canvas", "enb-proj-canvas");
  const marks = el("canvas", "enb-proj-marks");
  const tip = el("div", "enb-tip");
  tip.hidden = true;
  stage.append(canvas, marks);
  // Map labels sit over the points and the marks, under the tooltip.
  const labels = labelLayer(stage, (lx, ly) => pixelAt(lx, ly));
  stage.append(tip);
  stage.tabIndex = 0; // focusable, so that Escape reaches the view after a click on the map
  const side = el("div", "enb-proj-side");
  const selectionInfo = el("div", "enb-selection");
  const neighborsBox = el("div", "enb-neighbors");
  const queryBox = el("div", "enb-results");
  side.append(selectionInfo, queryBox, neighborsBox);
  body.append(stage, side);
  root.append(bar, legend, body);
  host.append(root);
  // The selection as a table under the map (table.js).
  const table = mountSelectionTable(root, { model, request, texts, zoomTo: (ids) => scatterplot.zoomToPoints(ids, { transition: true, padding: 2 }) });

  // --- scatterplot -----------------------------------------------------------------------
  const n = model.get("n_points");
  const scatterplot = createScatterplot({
    canvas,
    width: 600,
    height: 520,
    pointSize: pointSizeFor(n),
    pointSizeSelected: 1,
    opacity: n > 100_000 ? 0.6 : 0.85,
    opacityInactiveScale: 0.25,
    backgroundColor: "#ffffff",
    pointColorActive: "#000000",
    pointColorHover: "#111111",
    lassoColor: "#1976d2",
    performanceMode: n > 2_000_000,
  });

  let x = new Float32Array(0);
  let y = new Float32Array(0);
  let drawn = false;
  let fromView = false; // a selection change that the view itself made
  let lassoing = false;
  let mouse = [0, 0];

  const resize = () => {
    const { width, height } = stage.getBoundingClientRect();
    if (width < 10 || height < 10) return;
    scatterplot.set({ width: Math.floor(width), height: Math.floor(height) });
    marks.width = Math.floor(width * devicePixelRatio);
    marks.height = Math.floor(height * devicePixelRatio);
    drawMarks();
    labels.place();
  };
  const observer = new ResizeObserver(resize);
  observer.observe(stage);

  function readPositions() {
    const xy = typed(model.get("positions"), Float32Array);
    const count = xy.length / 2;
    x = xy.subarray(0, count);
    y = xy.subarray(count, 2 * count);
  }

  // The colour table: the categories' colours or the numeric LUT, then (with a filter) the
  // same colours faded, for the points that do not match: valueA = code + (match ? 0 : K).
  function colorTable() {
    if (model.get("color_scale")) return numericColors();
    const colors = model.get("category_colors");
    return colors.length ? colors : ["#4e79a7"];
  }

  async function draw({ transition = false } = {}) {
    readPositions();
    const categories = typed(model.get("categories"), Uint8Array);
    const colors = colorTable();
    const filter = typed(model.get("filter_mask"), Uint8Array);
    const filtering = filter.length === x.length && x.length > 0;
    const valueA = new Float32Array(x.length);
    if (categories.length === x.length) valueA.set(categories);
    if (filtering) for (let i = 0; i < x.length; i++) if (!filter[i]) valueA[i] += colors.length;
    const sizes = typed(model.get("sizes"), Uint8Array);
    const sizing = sizes.length === x.length && x.length > 0;
    const base = pointSizeFor(n);
    const options = {
      pointColor: filtering ? [...colors, ...colors.map(dimmed)] : colors,
      colorBy: "valueA",
      sizeBy: sizing ? "valueB" : null,
      // 64 sizes from half to three times the usual one; valueB in [0, 1] picks among them.
      pointSize: sizing ? Array.from({ length: 64 }, (_, k) => base * (0.5 + (2.5 * k) / 63)) : base,
    };
    scatterplot.set(options);
    const points = { x, y, valueA };
    if (sizing) points.valueB = Float32Array.from(sizes, (s) => s / 255);
    await scatterplot.draw(points, {
      transition: transition && drawn,
      transitionDuration: 700,
      zDataType: "categorical",
      wDataType: "continuous",
      preventFilterReset: true,
    });
    root.dataset.filtered = filtering ? String(filter.reduce((a, b) => a + b, 0)) : "";
    drawn = true;
    applySelection();
    drawMarks();
    labels.place();
    root.dataset.drawn = String(model.get("projection"));
  }

  let pending = null;
  const redraw = (options) => {
    // Several traits change in one update (names, colours, categories): draw once.
    if (pending) return;
    pending = Promise.resolve().then(() => {
      pending = null;
      return draw(options);
    });
  };

  // --- selection, both ways ----------------------------------------------------------------
  function applySelection() {
    if (fromView) return;
    const selected = typed(model.get("selected"), Uint32Array);
    if (selected.length) scatterplot.select(Array.from(selected), { preventEvent: true });
    else scatterplot.deselect({ preventEvent: true });
    showSelection();
  }

  function setSelected(indices) {
    fromView = true;
    model.set("selected", Uint32Array.from(indices).sort());
    model.save_changes();
    fromView = false;
    showSelection();
  }

  scatterplot.subscribe("lassoStart", () => {
    lassoing = true;
  });
  scatterplot.subscribe("select", ({ points }) => {
    if (!lassoing && points.length === 1) {
      // A click on a point: focus it; the kernel answers with its neighbours.
      model.set("focused", points[0]);
    }
    lassoing = false;
    setSelected(points);
  });
  scatterplot.subscribe("deselect", () => {
    lassoing = false;
    model.set("focused", -1);
    setSelected([]);
  });
  clear.addEventListener("click", () => clearSelection());

  function showSelection() {
    const count = typed(model.get("selected"), Uint32Array).length;
    selectionInfo.replaceChildren(
      el("div", "enb-legend-title", count ? `${count.toLocaleString()} selected` : "No selection"),
      el("div", "enb-muted", "Shift-drag to lasso · click a point for neighbours · double-click to clear"),
    );
  }

  // JupyterLab's notebook reads mouse-downs too (shift-click extends the cell selection and
  // starts a drag that swallows the mouse moves a lasso needs): keep them inside the plot.
  for (const type of ["mousedown", "click", "dblclick", "wheel"]) {
    stage.addEventListener(type, (event) => event.stopPropagation());
  }

  // --- hover -------------------------------------------------------------------------------
  stage.addEventListener("mousemove", (event) => {
    mouse = [event.clientX, event.clientY];
    if (!tip.hidden) placeTip(tip, stage, ...mouse);
  });
  let hovered = -1;
  scatterplot.subscribe("pointOver", async (index) => {
    hovered = index;
    tip.replaceChildren(el("div", "enb-tip-label", `#${index}`), el("div", "enb-muted", "…"));
    tip.hidden = false;
    placeTip(tip, stage, ...mouse);
    const [[text], [url]] = await Promise.all([
      texts.fetch([index]),
      hasImage(index) ? thumbs.fetch([index]) : Promise.resolve([null]),
    ]);
    if (hovered !== index) return;
    const parts = [el("div", "enb-tip-label", `#${index}`), el("div", "enb-text", text)];
    if (url) {
      const img = thumbImage(url);
      img.dataset.index = String(index);
      parts.unshift(img);
    }
    tip.replaceChildren(...parts);
    placeTip(tip, stage, ...mouse);
    if (url) await thumbs.load(index); // laid out at its size before the tests look
    if (hovered !== index) return;
    placeTip(tip, stage, ...mouse);
    root.dataset.hovered = String(index);
  });
  scatterplot.subscribe("pointOut", () => {
    hovered = -1;
    tip.hidden = true;
  });

  // --- marks: focused point, its neighbours, query hits -----------------------------------
  scatterplot.subscribe("view", () => {
    drawMarks();
    labels.place();
  });

  // Where point i is drawn, in CSS pixels inside the stage: the camera's view matrix, then
  // regl-scatterplot's projection (x divided by the aspect ratio).
  function pixelAt(px, py) {
    const v = scatterplot.get("cameraView");
    const { width, height } = canvas.getBoundingClientRect();
    const clipX = (v[0] * px + v[4] * py + v[12]) / (width / height);
    const clipY = v[1] * px + v[5] * py + v[13];
    return [((clipX + 1) / 2) * width, ((1 - clipY) / 2) * height];
  }
  const pixel = (i) => pixelAt(x[i], y[i]);

  function ring(ctx, i, color, radius, width) {
    if (i >= x.length) return;
    const [cx, cy] = pixel(i);
    const px = cx * devicePixelRatio;
    const py = cy * devicePixelRatio;
    ctx.beginPath();
    ctx.strokeStyle = color;
    ctx.lineWidth = width * devicePixelRatio;
    ctx.arc(px, py, radius * devicePixelRatio, 0, 2 * Math.PI);
    ctx.stroke();
  }

  // --- thumbnails in place of dots ---------------------------------------------------------
  // The image points inside the view with their pixel positions and the size to draw them at,
  // or null when thumbnails are off or would not fit (too many visible, or too crowded).
  function thumbLayout() {
    if (!model.get("thumbnails") || !mask.length || !x.length) return null;
    const v = scatterplot.get("cameraView");
    const { width, height } = canvas.getBoundingClientRect();
    if (width < 10 || height < 10) return null;
    const aspect = width / height;
    const visible = [];
    for (let i = 0; i < x.length && i < mask.length; i++) {
      if (mask[i] !== 1) continue;
      const clipX = (v[0] * x[i] + v[4] * y[i] + v[12]) / aspect;
      const clipY = v[1] * x[i] + v[5] * y[i] + v[13];
      const px = ((clipX + 1) / 2) * width;
      const py = ((1 - clipY) / 2) * height;
      if (px < -THUMB_MAX / 2 || px > width + THUMB_MAX / 2) continue;
      if (py < -THUMB_MAX / 2 || py > height + THUMB_MAX / 2) continue;
      visible.push([i, px, py]);
      if (visible.length > MAX_VISIBLE_THUMBS) return null;
    }
    if (!visible.length) return null;
    const nearest = visible.map(([, px, py], a) => {
      let best = Infinity;
      visible.forEach(([, qx, qy], b) => {
        if (a !== b) best = Math.min(best, Math.hypot(px - qx, py - qy));
      });
      return best;
    });
    nearest.sort((p, q) => p - q);
    const spacing = nearest[Math.floor(nearest.length / 2)];
    if (spacing < MIN_THUMB_SPACING) return null;
    const size = Math.max(THUMB_MIN, Math.min(THUMB_MAX, Number.isFinite(spacing) ? spacing * 0.9 : THUMB_MAX));
    return { visible, size };
  }

  let thumbLoading = false;
  async function loadThumbs(ids) {
    thumbLoading = true;
    try {
      await thumbs.fetch(ids);
      await Promise.all(ids.map((i) => thumbs.load(i)));
    } finally {
      thumbLoading = false;
    }
    drawMarks();
  }

  function drawThumbs(ctx) {
    const layout = thumbLayout();
    if (!layout) {
      root.dataset.thumbsDrawn = "0";
      return;
    }
    const { visible, size } = layout;
    const need = [];
    let count = 0;
    const r = devicePixelRatio;
    for (const [i, px, py] of visible) {
      if (!thumbs.loaded(i)) {
        if (!thumbs.has(i) || thumbs.get(i)) need.push(i);
        continue;
      }
      const img = thumbs.image(i);
      if (!img) continue;
      const scale = size / Math.max(img.naturalWidth, img.naturalHeight, 1);
      const w = img.naturalWidth * scale;
      const h = img.naturalHeight * scale;
      const left = (px - w / 2) * r;
      const top = (py - h / 2) * r;
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(left - 2 * r, top - 2 * r, (w + 4) * r, (h + 4) * r);
      ctx.drawImage(img, left, top, w * r, h * r);
      ctx.strokeStyle = "rgba(0, 0, 0, 0.35)";
      ctx.lineWidth = r;
      ctx.strokeRect(left - 2 * r, top - 2 * r, (w + 4) * r, (h + 4) * r);
      count++;
    }
    root.dataset.thumbsDrawn = String(count);
    // Ask for the visible ones still missing, a batch at a time; each reply redraws.
    if (need.length && !thumbLoading) loadThumbs(need.slice(0, 64));
  }

  function drawMarks() {
    const ctx = marks.getContext("2d");
    ctx.clearRect(0, 0, marks.width, marks.height);
    if (!x.length) return;
    if (model.get("contours")) {
      const lines = typed(model.get("contour_lines"), Float32Array);
      root.dataset.contours = String(drawContours(ctx, lines, pixelAt, devicePixelRatio));
    } else {
      root.dataset.contours = "0";
    }
    drawThumbs(ctx);
    for (const i of typed(model.get("query_hits"), Uint32Array)) ring(ctx, i, QUERY_COLOR, 7, 2.5);
    for (const i of typed(model.get("neighbors"), Uint32Array)) ring(ctx, i, NEIGHBOR_COLOR, 6, 2);
    const focused = model.get("focused");
    if (focused >= 0) ring(ctx, focused, FOCUS_COLOR, 8, 3);
  }

  async function fillList(box, title, ids, scores, color, emptyText) {
    box.replaceChildren();
    if (!ids.length) {
      if (emptyText) box.append(el("div", "enb-muted", emptyText));
      return;
    }
    const heading = el("div", "enb-legend-title", title);
    heading.style.color = color;
    const list = el("ol", "enb-list");
    box.append(heading, list);
    const withImages = Array.from(ids).filter(hasImage);
    const [found] = await Promise.all([texts.fetch(Array.from(ids)), thumbs.fetch(withImages)]);
    ids.forEach((id, k) => {
      const item = el("li");
      item.dataset.index = String(id);
      const url = thumbs.get(id);
      if (url) {
        item.classList.add("enb-has-thumb");
        item.append(thumbImage(url));
      }
      item.append(el("div", "enb-score", `#${id} · ${fmt(scores[k], 4)}`), el("div", "enb-text", found[k]));
      item.addEventListener("click", () => {
        model.set("focused", id);
        model.save_changes();
        scatterplot.zoomToPoints([id], { transition: true, padding: 2 });
      });
      list.append(item);
    });
  }

  function showNeighbors() {
    drawMarks();
    const focused = model.get("focused");
    const ids = typed(model.get("neighbors"), Uint32Array);
    const scores = typed(model.get("neighbor_scores"), Float32Array);
    fillList(neighborsBox, `Nearest to #${focused}`, ids, scores, NEIGHBOR_COLOR, "").then(() => {
      root.dataset.neighbors = String(ids.length);
    });
  }

  function showQuery() {
    drawMarks();
    const error = model.get("query_error");
    if (error) {
      queryBox.replaceChildren(el("div", "enb-error", error));
      return;
    }
    const ids = typed(model.get("query_hits"), Uint32Array);
    const scores = typed(model.get("query_scores"), Float32Array);
    const title = `Top ${ids.length} for “${model.get("query")}”`;
    fillList(queryBox, title, ids, scores, QUERY_COLOR, "").then(() => {
      root.dataset.queryHits = String(ids.length);
    });
  }

  let typingTimer = null;
  const sendQuery = () => {
    clearTimeout(typingTimer);
    if (model.get("query") === search.value) return;
    model.set("query", search.value);
    model.save_changes();
  };
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") sendQuery();
  });
  search.addEventListener("input", () => {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(sendQuery, 500);
  });

  // --- colour, legend, status -------------------------------------------------------------
  function showColorChoices() {
    const names = { label: "colour: label", kmeans: "colour: KMeans clusters", hdbscan: "colour: HDBSCAN clusters", none: "colour: none" };
    colorSelect.replaceChildren(
      ...model.get("color_choices").map((choice) => {
        const option = el("option", "", names[choice] ?? `colour: ${choice}`);
        option.value = choice;
        return option;
      }),
    );
    colorSelect.value = model.get("color_by");
  }
  colorSelect.addEventListener("change", () => {
    model.set("color_by", colorSelect.value);
    model.save_changes();
  });

  function showLegend() {
    const names = model.get("category_names");
    legend.replaceChildren();
    if (model.get("color_scale")) {
      const [low, high] = model.get("color_range");
      const title = el("span", "enb-legend-title", model.get("color_by"));
      legend.append(title, colorBar(el, low, high, model.get("color_missing"), (v) => fmt(v, Math.abs(high - low) >= 100 ? 0 : 3)));
    } else if (names.length > 1) legend.append(categoryLegend(names, model.get("category_colors")));
  }

  function showSizeChoices() {
    const choices = model.get("size_choices");
    sizeSelect.hidden = choices.length < 2;
    sizeSelect.replaceChildren(
      ...choices.map((choice) => {
        const option = el("option", "", choice === "none" ? "size: same" : `size: ${choice}`);
        option.value = choice;
        return option;
      }),
    );
    sizeSelect.value = model.get("size_by") || "none";
  }
  sizeSelect.addEventListener("change", () => {
    model.set("size_by", sizeSelect.value === "none" ? "" : sizeSelect.value);
    model.save_changes();
  });

  function showToggles() {
    labelBox.checked = model.get("show_labels");
    labels.show(model.get("show_labels"));
    contourBox.checked = model.get("contours");
  }
  labelBox.addEventListener("change", () => {
    model.set("show_labels", labelBox.checked);
    model.save_changes();
    showToggles();
  });
  contourBox.addEventListener("change", () => {
    model.set("contours", contourBox.checked);
    model.save_changes();
  });

  // --- filter box ---------------------------------------------------------------------------
  let filterTimer = null;
  const sendFilter = () => {
    clearTimeout(filterTimer);
    if (model.get("filter") === filterBox.value) return;
    model.set("filter", filterBox.value);
    model.save_changes();
  };
  filterBox.addEventListener("keydown", (event) => {
    if (event.key === "Enter") sendFilter();
  });
  filterBox.addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(sendFilter, 300);
  });
  function showFilter() {
    const count = model.get("filter_count");
    if (filterBox.value !== model.get("filter") && document.activeElement !== filterBox) filterBox.value = model.get("filter");
    filterInfo.textContent = count >= 0 ? `${count.toLocaleString()} match` : "";
  }

  // --- keyboard: Escape clears the selection (and, from the filter box, the filter) --------
  function clearSelection() {
    model.set("focused", -1);
    scatterplot.deselect({ preventEvent: true });
    setSelected([]);
  }
  root.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    // Keep JupyterLab from taking Escape (it would leave the cell for command mode).
    event.stopPropagation();
    event.preventDefault();
    if (event.target === filterBox && filterBox.value) {
      filterBox.value = "";
      sendFilter();
      return;
    }
    clearSelection();
  });

  function showThumbToggle() {
    thumbToggle.hidden = !mask.some((m) => m === 1);
    thumbBox.checked = model.get("thumbnails");
  }
  thumbBox.addEventListener("change", () => {
    model.set("thumbnails", thumbBox.checked);
    model.save_changes();
    drawMarks();
  });

  function showStatus() {
    const state = model.get("umap_state");
    const what = model.get("projection") === "umap" ? "UMAP" : "PCA";
    const parts = [`${what} · ${n.toLocaleString()} points`];
    if (model.get("status")) parts.push(model.get("status"));
    status.textContent = parts.join(" · ");
    progress.hidden = state !== "running";
    progressFill.style.width = `${Math.round(100 * model.get("progress"))}%`;
  }

  // --- wiring ------------------------------------------------------------------------------
  model.on("change:positions", () => redraw({ transition: true }));
  model.on("change:categories", () => redraw());
  model.on("change:category_colors", () => {
    showLegend();
    redraw();
  });
  model.on("change:category_names", showLegend);
  for (const name of ["color_scale", "color_range", "color_missing"]) model.on(`change:${name}`, showLegend);
  model.on("change:color_scale", () => redraw());
  model.on("change:sizes", () => redraw());
  model.on("change:filter_mask", () => redraw());
  model.on("change:filter_count", showFilter);
  model.on("change:filter", showFilter);
  model.on("change:size_choices", showSizeChoices);
  model.on("change:size_by", () => {
    sizeSelect.value = model.get("size_by") || "none";
  });
  model.on("change:map_labels", () => labels.set(model.get("map_labels")));
  model.on("change:show_labels", showToggles);
  model.on("change:contours", () => {
    showToggles();
    drawMarks();
  });
  model.on("change:contour_lines", drawMarks);
  model.on("change:selected", applySelection);
  model.on("change:neighbors", showNeighbors);
  model.on("change:focused", drawMarks);
  model.on("change:query_hits", showQuery);
  model.on("change:query_error", showQuery);
  model.on("change:color_by", () => {
    colorSelect.value = model.get("color_by");
  });
  model.on("change:color_choices", showColorChoices);
  model.on("change:thumbnails", () => {
    showThumbToggle();
    drawMarks();
  });
  model.on("change:image_mask", () => {
    mask = typed(model.get("image_mask"), Uint8Array);
    showThumbToggle();
    drawMarks();
  });
  for (const name of ["status", "progress", "umap_state", "projection"]) model.on(`change:${name}`, showStatus);

  // A small handle for tests and debugging: where a point is drawn (CSS pixels inside the
  // stage) and what the scatterplot has selected.
  root.enb = {
    pixel,
    pixelAt,
    labelCount: () => labels.count(),
    selectedPoints: () => Array.from(scatterplot.get("selectedPoints")),
    scatterplot,
    thumbLayout,
  };

  showColorChoices();
  showSizeChoices();
  showToggles();
  showFilter();
  showThumbToggle();
  showLegend();
  showStatus();
  showSelection();
  showNeighbors();
  showQuery();
  requestAnimationFrame(() => {
    resize();
    labels.set(model.get("map_labels"));
    draw();
  });

  return () => {
    observer.disconnect();
    request.dispose();
    table.dispose();
    thumbs.dispose();
    scatterplot.destroy();
  };
}

export default { render };
