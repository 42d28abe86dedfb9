// CompareView: two regl-scatterplots of the same items, side by side, linked.
//
// The kernel sends both layouts (float32 x then y) and, per point, how many of its k nearest
// neighbours the two embeddings share (uint8, 0..k): the points are coloured by it, on a
// colour-blind-safe sequential map. Hovering a point on one side marks it on the other; a lasso
// on either side selects the same points on both, and `selected` carries it to the kernel.
import createScatterplot from "regl-scatterplot";
import { VIRIDIS } from "./colormap.js";
import { el, placeTip, requester, textCache, typed } from "./common.js";

function side(name) {
  const panel = el("div", "enb-cmp-side");
  const title = el("div", "enb-legend-title", name);
  const stage = el("div", "enb-proj-stage enb-cmp-stage");
  const canvas = el("canvas", "enb-proj-canvas");
  const tip = el("div", "enb-tip");
  tip.hidden = true;
  stage.append(canvas, tip);
  panel.append(title, stage);
  const scatterplot = createScatterplot({
    canvas,
    width: 400,
    height: 400,
    pointSize: 5,
    pointSizeSelected: 1,
    opacity: 0.9,
    opacityInactiveScale: 0.25,
    backgroundColor: "#ffffff",
    pointColorActive: "#d62728",
    pointColorHover: "#111111",
    lassoColor: "#1976d2",
  });
  // JupyterLab reads mouse-downs too (a shift-drag would extend the cell selection).
  for (const type of ["mousedown", "click", "dblclick", "wheel"]) {
    stage.addEventListener(type, (event) => event.stopPropagation());
  }
  return { panel, title, stage, tip, scatterplot, mouse: [0, 0] };
}

function render({ model, el: host }) {
  const request = requester(model);
  const texts = textCache(request);
  const k = model.get("k");

  const root = el("div", "enb-root enb-cmp");
  root.tabIndex = 0; // Escape clears the selection when the view has the focus
  const bar = el("div", "enb-proj-bar");
  const headline = el("span", "enb-cmp-mean");
  const count = el("span", "enb-note");
  const clear = el("button", "enb-clear", "Clear selection");
  const scale = el("div", "enb-cmp-scale");
  bar.append(headline, scale, clear, count);
  const names = model.get("names");
  const sides = [side(names[0] ?? "A"), side(names[1] ?? "B")];
  const body = el("div", "enb-cmp-body");
  body.append(...sides.map((s) => s.panel));
  root.append(bar, body);
  host.append(root);

  const colors = Array.from({ length: k + 1 }, (_, i) => VIRIDIS[Math.round((255 * i) / k)]);
  for (let i = 0; i <= k; i += Math.max(1, Math.ceil(k / 10))) {
    const swatch = el("span", "enb-cmp-swatch", String(i));
    swatch.style.background = colors[i];
    swatch.style.color = i / k > 0.55 ? "#000000" : "#ffffff";
    scale.append(swatch);
  }
  scale.title = `neighbours shared, of ${k}`;
  const mean = model.get("mean_overlap");
  headline.textContent = `mean neighbours shared: ${mean.toFixed(2)} of ${k} (${Math.round((100 * mean) / k)}%)`;

  const overlap = typed(model.get("overlap_codes"), Uint8Array);
  let drawn = 0;
  let fromView = false;

  async function draw(s, trait) {
    const xy = typed(model.get(trait), Float32Array);
    const n = xy.length / 2;
    s.scatterplot.set({ pointColor: colors, colorBy: "valueA" });
    await s.scatterplot.draw(
      { x: xy.subarray(0, n), y: xy.subarray(n), valueA: overlap },
      { zDataType: "categorical" },
    );
    drawn += 1;
    if (drawn === 2) {
      applySelection();
      root.dataset.drawn = "true";
    }
  }

  const resize = (s) => () => {
    const { width, height } = s.stage.getBoundingClientRect();
    if (width > 10 && height > 10) s.scatterplot.set({ width: Math.floor(width), height: Math.floor(height) });
  };
  const observers = sides.map((s) => {
    const observer = new ResizeObserver(resize(s));
    observer.observe(s.stage);
    return observer;
  });

  // --- selection: one lasso selects on both sides, and in the kernel -------------------------
  function showCount() {
    const n = typed(model.get("selected"), Uint32Array).length;
    count.textContent = n ? `${n.toLocaleString()} selected` : "shift-drag to lasso on either side";
  }

  function applySelection() {
    if (fromView) return;
    const selected = Array.from(typed(model.get("selected"), Uint32Array));
    for (const s of sides) {
      if (selected.length) s.scatterplot.select(selected, { preventEvent: true });
      else s.scatterplot.deselect({ preventEvent: true });
    }
    showCount();
  }

  function setSelected(points, from) {
    for (const s of sides) {
      if (s === from) continue;
      if (points.length) s.scatterplot.select(points, { preventEvent: true });
      else s.scatterplot.deselect({ preventEvent: true });
    }
    fromView = true;
    model.set("selected", Uint32Array.from(points).sort());
    model.save_changes();
    fromView = false;
    showCount();
  }

  const clearAll = () => {
    for (const s of sides) s.scatterplot.deselect({ preventEvent: true });
    setSelected([], null);
  };
  clear.addEventListener("click", clearAll);
  root.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      clearAll();
      event.stopPropagation();
    }
  });

  // --- hover: the tip on the side under the mouse, the reticle on both ------------------------
  for (const s of sides) {
    const other = sides.find((t) => t !== s);
    s.stage.addEventListener("mousemove", (event) => {
      s.mouse = [event.clientX, event.clientY];
      if (!s.tip.hidden) placeTip(s.tip, s.stage, ...s.mouse);
    });
    s.scatterplot.subscribe("select", ({ points }) => setSelected(points, s));
    s.scatterplot.subscribe("deselect", () => setSelected([], s));
    s.scatterplot.subscribe("pointOver", async (index) => {
      other.scatterplot.hover(index, { showReticleOnce: true, preventEvent: true });
      root.dataset.hovered = String(index);
      s.tip.replaceChildren(
        el("div", "enb-tip-label", `#${index}`),
        el("div", "enb-muted", `${overlap[index]} of ${k} neighbours shared`),
      );
      s.tip.hidden = false;
      placeTip(s.tip, s.stage, ...s.mouse);
      const [text] = await texts.fetch([index]);
      if (root.dataset.hovered === String(index)) {
        s.tip.append(el("div", "enb-tip-text", text));
        placeTip(s.tip, s.stage, ...s.mouse);
      }
    });
    s.scatterplot.subscribe("pointOut", () => {
      other.scatterplot.hover(-1, { preventEvent: true });
      delete root.dataset.hovered;
      s.tip.hidden = true;
    });
  }

  model.on("change:selected", applySelection);

  // A handle for tests: where a point is drawn on a side (CSS pixels in its stage).
  root.enb = {
    pixel: (which, i) => {
      const [px, py] = sides[which].scatterplot.getScreenPosition(i) ?? [NaN, NaN];
      return [px, py];
    },
    selectedPoints: (which) => Array.from(sides[which].scatterplot.get("selectedPoints")),
    hoveredOn: (which) => sides[which].scatterplot.get("hoveredPoint"),
  };

  showCount();
  requestAnimationFrame(() => {
    sides.forEach((s) => resize(s)());
    draw(sides[0], "positions_a");
    draw(sides[1], "positions_b");
  });

  return () => {
    observers.forEach((o) => o.disconnect());
    request.dispose();
    sides.forEach((s) => s.scatterplot.destroy());
  };
}

export default { render };
