// SimilarityMatrix: a heatmap drawn into a canvas from a uint8 buffer (one byte per cell).
import { el, fmt, placeTip, requester, typed, categoryLegend } from "./common.js";

const DISPLAY = 560; // CSS pixels for the matrix side

function render({ model, el: host }) {
  const request = requester(model);
  const root = el("div", "enb-root enb-sim");
  const note = el("div", "enb-note");
  const stage = el("div", "enb-sim-stage");
  const band = el("canvas", "enb-sim-band");
  const canvas = el("canvas", "enb-sim-canvas");
  const overlay = el("canvas", "enb-sim-overlay");
  const tip = el("div", "enb-tip");
  tip.hidden = true;
  stage.append(band, canvas, overlay, tip);
  const side = el("div", "enb-sim-side");
  const legend = el("div", "enb-legend");
  const pinned = el("div", "enb-pinned");
  side.append(legend, pinned);
  const body = el("div", "enb-sim-body");
  body.append(stage, side);
  root.append(note, body);
  host.append(root);

  let size = 0;
  let values = new Uint8Array(0);
  let hover = null;

  const scoreOf = (row, col) => {
    const q = values[row * size + col];
    const lo = model.get("vmin");
    const hi = model.get("vmax");
    return lo + (q / 255) * (hi - lo);
  };

  function drawMatrix() {
    size = model.get("size");
    values = typed(model.get("values"), Uint8Array);
    const palette = typed(model.get("palette"), Uint8Array);
    canvas.width = size;
    canvas.height = size;
    overlay.width = DISPLAY;
    overlay.height = DISPLAY;
    const image = new ImageData(size, size);
    const px = new Uint32Array(image.data.buffer);
    // A 256-entry lookup of packed RGBA (little-endian: ABGR in one uint32).
    const lut = new Uint32Array(256);
    for (let k = 0; k < 256; k++) {
      lut[k] = (255 << 24) | (palette[3 * k + 2] << 16) | (palette[3 * k + 1] << 8) | palette[3 * k];
    }
    for (let k = 0; k < values.length; k++) px[k] = lut[values[k]];
    canvas.getContext("2d").putImageData(image, 0, 0);
    drawBand();
    drawLegend(palette);
    const parts = [`${size.toLocaleString()} × ${size.toLocaleString()} cosine similarity`];
    parts.push(model.get("order") === "cluster" ? "ordered by clustering" : "input order");
    if (model.get("note")) parts.push(model.get("note"));
    note.textContent = parts.join(" · ");
    drawOverlay();
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

  function drawLegend(palette) {
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
    const cell = DISPLAY / Math.max(size, 1);
    const mark = (rc, color, width) => {
      if (!rc || rc.length !== 2) return;
      const [r, c] = rc;
      ctx.strokeStyle = color;
      ctx.lineWidth = width;
      ctx.strokeRect(c * cell, 0, Math.max(cell, 1), DISPLAY);
      ctx.strokeRect(0, r * cell, DISPLAY, Math.max(cell, 1));
    };
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

  model.on("change:values", drawMatrix);
  model.on("change:row_labels", drawBand);
  model.on("change:pinned_cell", showPinned);
  drawMatrix();
  showPinned();
  return () => request.dispose();
}

export default { render };
