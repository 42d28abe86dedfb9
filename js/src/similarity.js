// SimilarityMatrix: a heatmap drawn into a canvas from a uint8 buffer (one byte per cell), with
// text labels on both axes (up to 60 rows), the value in each cell (up to 15 rows), a threshold
// slider that greys out the cells below it, and a row's most similar texts listed beside it.
// Every label and text reaches the DOM through textContent (see `el`): shown, never run.
import { el, fmt, placeTip, requester, typed, categoryLegend, rovingList, textColorOn } from "./common.js";

const DISPLAY = 560; // CSS pixels for the matrix side
const VALUE_MAX_ROWS = 15; // the value in each cell up to this many rows
const GREY = [224, 224, 224]; // a cell below the threshold (the kernel's PNG uses the same)
const ROW_LABEL_WIDTH = 200; // CSS pixels for the row labels, left of the matrix

function render({ model, el: host }) {
  const request = requester(model);
  const root = el("div", "enb-root enb-sim");
  const note = el("div", "enb-note");
  const controls = el("label", "enb-sim-controls");
  const slider = el("input", "enb-sim-threshold");
  slider.type = "range";
  slider.step = "0.01";
  slider.max = "1";
  slider.setAttribute("aria-label", "grey out cells below this similarity");
  const readout = el("span", "enb-sim-readout");
  controls.append(el("span", "", "grey out below"), slider, readout);
  const grid = el("div", "enb-sim-grid");
  const corner = el("div", "enb-sim-corner");
  const colLabels = el("div", "enb-sim-cols");
  const rowLabels = el("div", "enb-sim-rows");
  rowLabels.setAttribute("role", "list");
  rowLabels.setAttribute("aria-label", "rows: choose one to list its most similar texts");
  const stage = el("div", "enb-sim-stage");
  const band = el("canvas", "enb-sim-band");
  const canvas = el("canvas", "enb-sim-canvas");
  const cells = el("div", "enb-sim-values");
  const overlay = el("canvas", "enb-sim-overlay");
  const tip = el("div", "enb-tip");
  tip.hidden = true;
  stage.append(band, canvas, cells, overlay, tip);
  grid.append(corner, colLabels, rowLabels, stage);
  const side = el("div", "enb-sim-side");
  const legend = el("div", "enb-legend");
  const similar = el("div", "enb-sim-similar");
  const pinned = el("div", "enb-pinned");
  side.append(legend, similar, pinned);
  const body = el("div", "enb-sim-body");
  body.append(grid, side);
  root.append(note, controls, body);
  host.append(root);

  let size = 0;
  let values = new Uint8Array(0);
  let exact = new Float32Array(0);
  let palette = new Uint8Array(0);
  let hover = null;

  const scoreOf = (row, col) => {
    if (exact.length === size * size && size) return exact[row * size + col];
    const q = values[row * size + col];
    const lo = model.get("vmin");
    const hi = model.get("vmax");
    return lo + (q / 255) * (hi - lo);
  };
  // A cell is greyed when its score is below the threshold (-1 greys nothing).
  const isBelow = (row, col) => scoreOf(row, col) < model.get("threshold");
  const cellPx = () => DISPLAY / Math.max(size, 1);

  function drawMatrix() {
    size = model.get("size");
    values = typed(model.get("values"), Uint8Array);
    exact = typed(model.get("exact"), Float32Array);
    palette = typed(model.get("palette"), Uint8Array);
    overlay.width = DISPLAY;
    overlay.height = DISPLAY;
    drawCells();
    drawBand();
    drawLegend();
    drawLabels();
    setupSlider();
    const parts = [`${size.toLocaleString()} × ${size.toLocaleString()} cosine similarity`];
    parts.push(model.get("order") === "cluster" ? "ordered by clustering" : "input order");
    if (model.get("note")) parts.push(model.get("note"));
    if (!model.get("axis_labels").length) parts.push("hover a cell to see its texts");
    note.textContent = parts.join(" · ");
    drawOverlay();
  }

  // The heatmap, one canvas pixel per cell, with the cells below the threshold greyed out.
  function drawCells() {
    canvas.width = size;
    canvas.height = size;
    const image = new ImageData(size, size);
    const px = new Uint32Array(image.data.buffer);
    // A 256-entry lookup of packed RGBA (little-endian: ABGR in one uint32).
    const pack = (r, g, b) => ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
    const lut = new Uint32Array(256);
    for (let k = 0; k < 256; k++) lut[k] = pack(palette[3 * k], palette[3 * k + 1], palette[3 * k + 2]);
    const grey = pack(...GREY);
    const threshold = model.get("threshold");
    let greyed = 0;
    if (threshold <= -1) {
      for (let k = 0; k < values.length; k++) px[k] = lut[values[k]];
    } else if (exact.length === values.length) {
      for (let k = 0; k < values.length; k++) {
        const below = exact[k] < threshold;
        greyed += below;
        px[k] = below ? grey : lut[values[k]];
      }
    } else {
      // Past 60 rows only the quantised codes are here: compare codes, not floats.
      const lo = model.get("vmin");
      const hi = model.get("vmax");
      const cut = ((threshold - lo) / (hi - lo)) * 255;
      for (let k = 0; k < values.length; k++) {
        const below = values[k] < cut;
        greyed += below;
        px[k] = below ? grey : lut[values[k]];
      }
    }
    canvas.getContext("2d").putImageData(image, 0, 0);
    root.dataset.greyed = String(greyed);
    drawValues();
  }

  // The value in each cell (small matrices): DOM text over the canvas, black or white, whichever
  // contrasts more with that cell's colour (at least 4.58:1, above WCAG AA's 4.5:1).
  function drawValues() {
    cells.replaceChildren();
    if (size > VALUE_MAX_ROWS || !size) return;
    const cell = cellPx();
    cells.style.fontSize = `${Math.round(Math.max(11, Math.min(28, cell * 0.3)))}px`;
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const below = isBelow(r, c);
        const q = values[r * size + c];
        const rgb = below ? GREY : [palette[3 * q], palette[3 * q + 1], palette[3 * q + 2]];
        const span = el("span", below ? "enb-sim-value enb-sim-below" : "enb-sim-value", fmt(scoreOf(r, c), 2));
        span.style.left = `${c * cell}px`;
        span.style.top = `${r * cell}px`;
        span.style.width = span.style.height = span.style.lineHeight = `${cell}px`;
        span.style.color = textColorOn(...rgb);
        span.dataset.row = String(r);
        span.dataset.col = String(c);
        span.dataset.bg = `rgb(${rgb.join(",")})`;
        cells.append(span);
      }
    }
  }

  function drawBand() {
    const labels = typed(model.get("row_labels"), Uint8Array);
    const colors = model.get("label_colors");
    band.hidden = labels.length === 0;
    if (!labels.length) return;
    band.width = 1;
    band.height = labels.length;
    const ctx = band.getContext("2d");
    labels.forEach((code, k) => {
      ctx.fillStyle = code < colors.length ? colors[code] : "#ccc";
      ctx.fillRect(0, k, 1, 1);
    });
  }

  function drawLegend() {
    legend.replaceChildren();
    const ramp = el("canvas", "enb-ramp");
    ramp.width = 256;
    ramp.height = 1;
    const ctx = ramp.getContext("2d");
    for (let k = 0; k < 256; k++) {
      ctx.fillStyle = `rgb(${palette[3 * k]},${palette[3 * k + 1]},${palette[3 * k + 2]})`;
      ctx.fillRect(k, 0, 1, 1);
    }
    const ticks = el("div", "enb-ramp-ticks");
    ticks.append(el("span", "", fmt(model.get("vmin"), 3)), el("span", "", fmt(model.get("vmax"), 3)));
    legend.append(el("div", "enb-legend-title", "cosine similarity"), ramp, ticks);
    const names = model.get("label_names");
    if (names.length) legend.append(categoryLegend(names, model.get("label_colors")));
  }

  // Axis labels: row labels are buttons (click, or Enter, lists that row's most similar texts;
  // arrow keys step between them); column labels run vertically unless the cells are wide.
  function drawLabels() {
    const labels = model.get("axis_labels");
    const shown = labels.length === size && size > 0;
    const cell = cellPx();
    const wide = cell >= 70;
    const font = `${Math.round(Math.max(9, Math.min(18, cell * 0.8)))}px`;
    grid.style.gridTemplateColumns = `${shown ? ROW_LABEL_WIDTH : 0}px ${DISPLAY + 10}px`;
    grid.style.gridTemplateRows = `${shown ? (wide ? 72 : 150) : 0}px ${DISPLAY}px`;
    rowLabels.replaceChildren();
    colLabels.replaceChildren();
    root.classList.toggle("enb-sim-labelled", shown);
    if (!shown) return;
    labels.forEach((text, k) => {
      const button = el("button", "enb-sim-rowlabel", text);
      button.type = "button";
      button.title = text;
      button.dataset.row = String(k);
      button.setAttribute("role", "listitem");
      Object.assign(button.style, { top: `${k * cell}px`, height: `${cell}px`, lineHeight: `${cell}px`, fontSize: font });
      button.addEventListener("click", () => setFocusRow(model.get("focused_row") === k ? -1 : k));
      rowLabels.append(button);
      const col = el("span", wide ? "enb-sim-collabel enb-sim-wide" : "enb-sim-collabel", text);
      col.title = text;
      col.dataset.col = String(k);
      Object.assign(col.style, { left: `${10 + k * cell}px`, width: `${cell}px`, fontSize: font });
      if (!wide) col.style.lineHeight = `${cell}px`;
      colLabels.append(col);
    });
    rowKeys.refresh();
    markFocusedLabel();
  }

  const rowKeys = rovingList(rowLabels, ".enb-sim-rowlabel", { onEscape: () => setFocusRow(-1) });

  function setupSlider() {
    const low = Math.max(-1, Math.floor(Math.min(model.get("vmin"), 1) * 20) / 20);
    slider.min = String(low);
    showThreshold();
  }

  function showThreshold() {
    const t = model.get("threshold");
    if (document.activeElement !== slider) slider.value = String(Math.max(t, Number(slider.min)));
    readout.textContent = t <= -1 ? "off" : `< ${fmt(t, 2)}`;
  }

  slider.addEventListener("input", () => {
    const t = Number(slider.value);
    model.set("threshold", t <= Number(slider.min) ? -1 : t);
    model.save_changes();
    drawCells();
    showThreshold();
  });

  function cellAt(event) {
    const box = canvas.getBoundingClientRect();
    const col = Math.floor(((event.clientX - box.left) / box.width) * size);
    const row = Math.floor(((event.clientY - box.top) / box.height) * size);
    if (row < 0 || col < 0 || row >= size || col >= size) return null;
    return [row, col];
  }

  function drawOverlay() {
    const ctx = overlay.getContext("2d");
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    const cell = cellPx();
    const mark = (rc, color, width) => {
      if (!rc || rc.length !== 2) return;
      const [r, c] = rc;
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.strokeRect(c * cell, 0, Math.max(cell, 1), DISPLAY);
      ctx.strokeRect(0, r * cell, DISPLAY, Math.max(cell, 1));
    };
    const focusRow = model.get("focused_row");
    if (focusRow >= 0) {
      ctx.strokeStyle = "#ff9500";
      ctx.lineWidth = 2;
      ctx.strokeRect(1, focusRow * cell, DISPLAY - 2, Math.max(cell, 1));
    }
    mark(hover, "rgba(255,255,255,0.7)", 1);
    mark(model.get("pinned_cell"), "#ff3b30", 2);
  }

  function fillCard(card, reply, approx) {
    card.replaceChildren();
    const score = el("div", "enb-score");
    score.textContent = reply ? `score ${fmt(reply.score, 6)}` : `score ≈ ${fmt(approx, 3)}`;
    card.append(score);
    if (reply) {
      card.append(
        el("div", "enb-tip-label", `row #${reply.i}`),
        el("div", "enb-text", reply.texts[0]),
        el("div", "enb-tip-label", `column #${reply.j}`),
        el("div", "enb-text", reply.texts[1]),
      );
    } else {
      card.append(el("div", "enb-muted", "loading texts…"));
    }
  }

  async function showCell(card, rc, latestOnly) {
    const [row, col] = rc;
    fillCard(card, null, scoreOf(row, col));
    const reply = await request("cell", { row, col }, { latestOnly });
    if (reply && !reply.error) fillCard(card, reply);
    else if (reply && reply.error) card.append(el("div", "enb-error", reply.error));
    return reply;
  }

  let lastKey = "";
  overlay.addEventListener("mousemove", (event) => {
    const rc = cellAt(event);
    if (!rc) return;
    const key = rc.join(",");
    tip.hidden = false;
    placeTip(tip, stage, event.clientX, event.clientY);
    if (key === lastKey) return;
    lastKey = key;
    hover = rc;
    drawOverlay();
    showCell(tip, rc, true).then(() => placeTip(tip, stage, event.clientX, event.clientY));
    model.set("hovered_cell", rc);
    model.save_changes();
  });
  overlay.addEventListener("mouseleave", () => {
    tip.hidden = true;
    hover = null;
    lastKey = "";
    drawOverlay();
  });
  overlay.addEventListener("click", (event) => {
    const rc = cellAt(event);
    if (!rc) return;
    const current = model.get("pinned_cell");
    const same = current.length === 2 && current[0] === rc[0] && current[1] === rc[1];
    model.set("pinned_cell", same ? [] : rc);
    // A click on a row also lists that row's most similar texts (the way to it past 60 rows).
    if (!same) model.set("focused_row", rc[0]);
    model.save_changes();
  });

  function showPinned() {
    const rc = model.get("pinned_cell");
    pinned.replaceChildren();
    drawOverlay();
    if (rc.length !== 2) {
      pinned.append(el("div", "enb-muted", "Click a cell to pin it."));
      return;
    }
    const card = el("div", "enb-card");
    pinned.append(el("div", "enb-legend-title", "pinned"), card);
    showCell(card, rc, false);
  }

  // --- a row's most similar texts -----------------------------------------------------

  function setFocusRow(row) {
    model.set("focused_row", row);
    model.save_changes();
    showSimilar();
  }

  function markFocusedLabel() {
    const row = model.get("focused_row");
    for (const button of rowLabels.children) {
      const on = Number(button.dataset.row) === row;
      button.classList.toggle("enb-active", on);
      button.setAttribute("aria-current", on ? "true" : "false");
    }
  }

  const list = el("ol", "enb-list enb-sim-similar-list");
  list.setAttribute("aria-label", "most similar texts");
  const similarKeys = rovingList(list, "li", {
    onActivate: (item) => {
      // Pin the pair, which shows both texts and the exact score below.
      model.set("pinned_cell", [model.get("focused_row"), Number(item.dataset.row)]);
      model.save_changes();
    },
    onEscape: () => {
      const row = model.get("focused_row");
      setFocusRow(-1);
      const label = rowLabels.querySelector(`[data-row="${row}"]`);
      if (label) label.focus();
    },
  });

  let asking = 0;
  async function showSimilar() {
    const row = model.get("focused_row");
    const token = ++asking;
    markFocusedLabel();
    drawOverlay();
    similar.replaceChildren();
    root.dataset.focusedRow = String(row);
    if (row < 0 || row >= size) {
      similar.append(el("div", "enb-muted", "Click a row label (or a cell) to list that text's most similar texts."));
      return;
    }
    similar.append(el("div", "enb-legend-title", "most similar to"), el("div", "enb-muted", "loading…"));
    const reply = await request("similar", { row });
    if (token !== asking) return;
    similar.replaceChildren();
    if (!reply || reply.error) {
      similar.append(el("div", "enb-error", reply ? reply.error : "no reply from the kernel"));
      return;
    }
    const head = el("div", "enb-card enb-sim-similar-head");
    head.append(el("div", "enb-tip-label", `row #${reply.i}`), el("div", "enb-text", reply.text));
    list.replaceChildren();
    reply.items.forEach((item, k) => {
      const li = el("li", "enb-sim-similar-item");
      li.dataset.row = String(item.row);
      li.dataset.index = String(item.i);
      li.setAttribute("aria-label", `${k + 1}: score ${fmt(item.score, 4)}`);
      li.append(el("span", "enb-score", `${k + 1}. ${fmt(item.score, 4)}`), el("div", "enb-text", item.text));
      li.addEventListener("click", () => {
        model.set("pinned_cell", [row, item.row]);
        model.save_changes();
      });
      list.append(li);
    });
    similarKeys.refresh();
    similar.append(el("div", "enb-legend-title", "most similar to"), head, list);
  }

  model.on("change:values", drawMatrix);
  model.on("change:axis_labels", drawMatrix);
  model.on("change:row_labels", drawBand);
  model.on("change:pinned_cell", showPinned);
  model.on("change:focused_row", showSimilar);
  model.on("change:threshold", () => {
    drawCells();
    showThreshold();
  });
  drawMatrix();
  showPinned();
  showSimilar();
  return () => request.dispose();
}

export default { render };
