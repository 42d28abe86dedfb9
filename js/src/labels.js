// Labels on the ProjectionView map: absolutely positioned DOM text over the WebGL canvas.
//
// The kernel sends one anchor per category ({text, x, y, n}, largest first). Each time the
// camera moves, the labels are placed greedily in that order: a label is shown only if its
// box overlaps no label already shown and lies inside the view. Zoomed out, the centres crowd
// together and fewer labels fit; zoomed in, they spread and more fit. The text reaches the DOM
// through textContent only: markup in a label is shown, never run.
import { el } from "./common.js";

const PAD = 3; // CSS pixels kept free around each label

/** Greedy placement: which boxes (in order of priority) are kept. Exported for tests. */
export function placeBoxes(boxes, width, height) {
  const kept = [];
  const shown = boxes.map((b) => {
    if (b.left < 0 || b.top < 0 || b.left + b.width > width || b.top + b.height > height) return false;
    const clash = kept.some(
      (k) =>
        b.left < k.left + k.width + PAD &&
        k.left < b.left + b.width + PAD &&
        b.top < k.top + k.height + PAD &&
        k.top < b.top + b.height + PAD,
    );
    if (clash) return false;
    kept.push(b);
    return true;
  });
  return shown;
}

/** A layer of map labels inside `stage`; `pixel(x, y)` maps layout to stage CSS pixels. */
export function labelLayer(stage, pixel) {
  const layer = el("div", "enb-map-labels");
  stage.append(layer);
  let items = []; // { anchor, node, width, height }

  function set(anchors) {
    layer.replaceChildren();
    const top = Math.max(1, ...anchors.map((a) => a.n));
    items = anchors.map((anchor) => {
      const node = el("div", "enb-map-label", anchor.text);
      // Bigger groups get bigger text (12..17 px): the eye finds the big ones first.
      node.style.fontSize = `${12 + Math.round(5 * Math.sqrt(anchor.n / top))}px`;
      node.dataset.key = anchor.key ?? "";
      layer.append(node);
      return { anchor, node, width: 0, height: 0 };
    });
    for (const item of items) {
      item.width = item.node.offsetWidth;
      item.height = item.node.offsetHeight;
    }
    place();
  }

  function place() {
    const { width, height } = stage.getBoundingClientRect();
    if (!items.length || width < 10) {
      layer.dataset.visible = "0";
      return;
    }
    const boxes = items.map((item) => {
      const [px, py] = pixel(item.anchor.x, item.anchor.y);
      return { left: px - item.width / 2, top: py - item.height / 2, width: item.width, height: item.height };
    });
    const shown = placeBoxes(boxes, width, height);
    let count = 0;
    items.forEach((item, k) => {
      item.node.hidden = !shown[k];
      if (shown[k]) {
        item.node.style.transform = `translate(${boxes[k].left}px, ${boxes[k].top}px)`;
        count++;
      }
    });
    layer.dataset.visible = String(count);
  }

  return {
    set,
    place,
    show(on) {
      layer.hidden = !on;
    },
    count: () => Number(layer.dataset.visible || 0),
  };
}
