// Helpers shared by the embed_nb widgets.
//
// Safety: document text is untrusted. It only ever reaches the DOM through `textContent`
// (see `el`), never through innerHTML, so markup in a text is shown, not run.

/** Make an element with a class and (escaped) text content. */
export function el(tag, className = "", text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null && text !== undefined) node.textContent = String(text);
  return node;
}

/** The query box of a widget: a search input showing the model's `query`. */
export function queryInput(model, placeholder) {
  const box = el("input", "enb-query");
  box.type = "search";
  box.placeholder = placeholder;
  box.value = model.get("query");
  return box;
}

/** View a synced binary trait (a DataView, ArrayBuffer or typed array) as a typed array. */
export function typed(value, Kind) {
  if (value == null) return new Kind(0);
  if (value instanceof Kind) return value;
  const buffer = value.buffer ?? value;
  const offset = value.byteOffset ?? 0;
  const length = value.byteLength ?? buffer.byteLength;
  if (offset % Kind.BYTES_PER_ELEMENT !== 0) {
    // Typed arrays need aligned offsets: copy the bytes once.
    return new Kind(buffer.slice(offset, offset + length));
  }
  return new Kind(buffer, offset, length / Kind.BYTES_PER_ELEMENT);
}

/**
 * Request/reply over anywidget custom messages. Each request carries a number; a reply
 * answers the request with that number. Stale replies (superseded requests of the same kind)
 * are dropped when `latestOnly` is set.
 */
export function requester(model) {
  let next = 1;
  const pending = new Map();
  const latest = new Map();
  const onMessage = (msg, buffers) => {
    if (!msg || typeof msg !== "object" || !pending.has(msg.req)) return;
    const { resolve, kind, latestOnly } = pending.get(msg.req);
    pending.delete(msg.req);
    if (latestOnly && latest.get(kind) !== msg.req) {
      resolve(null);
      return;
    }
    resolve({ ...msg, buffers });
  };
  model.on("msg:custom", onMessage);
  const request = (kind, content = {}, { latestOnly = false } = {}) =>
    new Promise((resolve) => {
      const req = next++;
      pending.set(req, { resolve, kind, latestOnly });
      latest.set(kind, req);
      model.send({ kind, req, ...content });
    });
  request.dispose = () => model.off("msg:custom", onMessage);
  return request;
}

/** A cache of texts by point index, fetched lazily from the kernel in small batches. */
export function textCache(request) {
  const cache = new Map();
  return {
    get: (i) => cache.get(i),
    has: (i) => cache.has(i),
    async fetch(ids) {
      const missing = ids.filter((i) => !cache.has(i));
      if (missing.length) {
        const reply = await request("texts", { ids: missing.slice(0, 500) });
        if (reply && reply.texts) reply.ids.forEach((id, k) => cache.set(id, reply.texts[k]));
      }
      return ids.map((i) => cache.get(i) ?? "");
    },
  };
}

/** Format a score the way the views show it. */
export const fmt = (x, digits = 4) => (Number.isFinite(x) ? x.toFixed(digits) : "–");

/** Place a tooltip near the mouse, inside its positioned container. */
export function placeTip(tip, container, clientX, clientY) {
  const box = container.getBoundingClientRect();
  let x = clientX - box.left + 14;
  let y = clientY - box.top + 14;
  const w = tip.offsetWidth;
  const h = tip.offsetHeight;
  if (x + w > box.width) x = Math.max(0, clientX - box.left - w - 14);
  if (y + h > box.height) y = Math.max(0, clientY - box.top - h - 14);
  tip.style.left = `${x}px`;
  tip.style.top = `${y}px`;
}

/** Colour-legend swatches for categories. */
export function categoryLegend(names, colors, onClick = null) {
  const legend = el("div", "enb-cats");
  names.forEach((name, k) => {
    const item = el("span", "enb-cat");
    const swatch = el("span", "enb-swatch");
    swatch.style.background = colors[k % colors.length];
    item.append(swatch, el("span", "enb-cat-name", name));
    if (onClick) {
      item.classList.add("enb-clickable");
      item.addEventListener("click", () => onClick(k));
    }
    legend.append(item);
  });
  return legend;
}

/**
 * A cache of thumbnails by point index, fetched lazily from the kernel as binary buffers.
 *
 * The kernel makes each thumbnail (a small JPEG, or a PNG waveform for audio) and sends its
 * bytes; the page wraps them in a Blob and an object URL made here, so no image is ever
 * fetched from a server. `get(i)` is the URL, `null` for a point without an image, or
 * `undefined` while not asked yet.
 */
export function thumbCache(request, perRequest = 64) {
  const cache = new Map();
  const inFlight = new Set();
  const images = new Map(); // index -> decoded HTMLImageElement, for drawing on a canvas
  return {
    get: (i) => cache.get(i),
    has: (i) => cache.has(i),
    image: (i) => images.get(i),
    loaded: (i) => images.has(i),
    async fetch(ids) {
      const missing = ids.filter((i) => !cache.has(i) && !inFlight.has(i)).slice(0, perRequest);
      if (missing.length) {
        missing.forEach((i) => inFlight.add(i));
        const reply = await request("thumbs", { ids: missing });
        missing.forEach((i) => inFlight.delete(i));
        if (!reply || reply.error) {
          missing.forEach((i) => cache.set(i, null)); // shown as a dot; not asked again
        } else {
          let next = 0;
          reply.ids.forEach((id, k) => {
            const type = reply.types[k];
            if (!type) {
              cache.set(id, null);
              return;
            }
            const buffer = reply.buffers[next++];
            const bytes = buffer.buffer ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength) : new Uint8Array(buffer);
            cache.set(id, URL.createObjectURL(new Blob([bytes], { type })));
          });
        }
      }
      return ids.map((i) => cache.get(i) ?? null);
    },
    /** The decoded image of point i (for a canvas), loading it first if needed. */
    async load(i) {
      if (images.has(i)) return images.get(i);
      const url = cache.get(i);
      if (!url) return null;
      const img = new Image();
      img.src = url;
      try {
        await img.decode();
      } catch {
        images.set(i, null); // bytes the browser cannot show: a dot, not asked again
        return null;
      }
      images.set(i, img);
      return img;
    },
    dispose() {
      for (const url of cache.values()) if (url) URL.revokeObjectURL(url);
      cache.clear();
      images.clear();
    },
  };
}

/** An <img> of a kernel-made thumbnail (an object URL), for tooltips and lists. */
export function thumbImage(url, className = "enb-thumb") {
  const img = el("img", className);
  img.src = url;
  img.alt = "";
  img.draggable = false;
  return img;
}

/**
 * Keyboard use of a ranked list (issue 15): ArrowDown/ArrowUp (and Home/End) move the focus
 * between the items that match `selector`, Enter or Space activates the focused one, Escape
 * clears. One item at a time is in the Tab order (a roving tabindex), so Tab leaves the list.
 * Call `refresh()` after the items change. `onActivate(item)` / `onEscape()` do the work.
 */
export function rovingList(container, selector, { onActivate = null, onEscape = null } = {}) {
  const items = () => [...container.querySelectorAll(selector)];
  const focusAt = (k) => {
    const all = items();
    if (!all.length) return;
    const target = all[Math.max(0, Math.min(all.length - 1, k))];
    all.forEach((item) => (item.tabIndex = item === target ? 0 : -1));
    target.focus();
  };
  container.addEventListener("keydown", (event) => {
    const all = items();
    const k = all.indexOf(document.activeElement);
    if (k < 0) return;
    const moves = { ArrowDown: k + 1, ArrowUp: k - 1, Home: 0, End: all.length - 1 };
    if (event.key in moves) {
      focusAt(moves[event.key]);
    } else if ((event.key === "Enter" || event.key === " ") && onActivate) {
      onActivate(all[k]);
    } else if (event.key === "Escape" && onEscape) {
      onEscape();
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation(); // keep Lab's notebook shortcuts (arrows, Escape) out of it
  });
  container.addEventListener("focusin", (event) => {
    const all = items();
    if (all.includes(event.target)) all.forEach((item) => (item.tabIndex = item === event.target ? 0 : -1));
  });
  return {
    focusAt,
    refresh() {
      items().forEach((item, k) => (item.tabIndex = k === 0 ? 0 : -1));
    },
  };
}

/** WCAG relative luminance of an sRGB colour given as 0-255 channels. */
export function luminance(r, g, b) {
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** Black or white text, whichever contrasts more with a background (always >= 4.58:1). */
export function textColorOn(r, g, b) {
  const l = luminance(r, g, b);
  return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "#000" : "#fff";
}
