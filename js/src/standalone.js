// The host of an exported page (`widget.to_html(path)`): no kernel, no server, no network.
//
// The page holds one JSON index (`#enb-meta`) and one base64 blob of gzip (`#enb-blob`) with
// the widget's binary traits, its JS module, its CSS and its offline data (texts, tables).
// This host builds a stand-in for anywidget's `model` from that state and calls the widget
// module's `render({ model, el })`, exactly as anywidget would in a notebook:
//   - get/set/on/off/save_changes work locally (Backbone-like `change:<name>` events);
//   - `send` answers the widget's custom-message requests from the offline data (hover texts,
//     thumbnails, matrix cells); a request that needs the model gets `{error: "... needs the
//     kernel"}`;
//   - saving a trait the kernel would react to runs a small declared "reaction" instead
//     (precomputed neighbour rows, or a message saying that it needs the kernel).
// It uses DecompressionStream("gzip"): modern browsers only (Chromium 80+, Firefox 113+,
// Safari 16.4+), on purpose, with no fallback.

const NEEDS_KERNEL = "needs the kernel: this is an exported page (to_html); run the notebook to use it";

function bytesOfBase64(text) {
  const binary = atob(text.replace(/\s+/g, ""));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function gunzip(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Put buffers back into the state at their paths (as ipywidgets' put_buffers does). */
function putBuffers(state, paths, views) {
  paths.forEach((path, k) => {
    let node = state;
    for (let i = 0; i < path.length - 1; i++) node = node[path[i]];
    node[path[path.length - 1]] = views[k];
  });
}

const isEmpty = (value) =>
  value === "" || value === -1 || value === null || (Array.isArray(value) && value.length === 0);

/** A stand-in for anywidget's model, answering from the exported state and offline data. */
function offlineModel(state, offline, tables) {
  const values = { ...state };
  const exported = { ...state };
  const listeners = new Map();
  const dirty = new Set();
  const texts = offline.texts ?? [];

  const emit = (name, ...args) => {
    for (const callback of [...(listeners.get(name) ?? [])]) callback(...args);
  };
  const assign = (name, value) => {
    if (values[name] === value) return;
    values[name] = value;
    emit(`change:${name}`, value);
  };
  const slice = (table, start, end) => {
    const view = tables[table];
    const size = view.BYTES_PER_ELEMENT;
    return new DataView(view.buffer, view.byteOffset + start * size, (end - start) * size);
  };
  const reply = (content, buffers = []) =>
    // Asynchronous, as a kernel's reply would be.
    setTimeout(() => emit("msg:custom", content, buffers), 0);

  const inMatrix = (recipe, k) => Number.isInteger(k) && k >= 0 && k < values[recipe.size];
  const matrixScore = (recipe, row, col) => {
    const size = values[recipe.size];
    if (recipe.scores) return tables[recipe.scores][row * size + col];
    // Only the colour codes were exported: the score back from its uint8 code.
    const codes = values[recipe.values];
    const code = codes.getUint8(row * size + col);
    return values.vmin + (code / 255) * (values.vmax - values.vmin);
  };

  // The selected points as plain numbers (the trait is a DataView or a typed array).
  const selectedIds = () => {
    const value = values.selected;
    if (!value) return [];
    if (value instanceof DataView) {
      return Array.from({ length: value.byteLength / 4 }, (_, k) => value.getUint32(4 * k, true));
    }
    return Array.from(value);
  };
  // Missing values (empty cells) sort last either way, as in the kernel.
  const compareCells = (a, b, numeric) => {
    if (a === "" || b === "") return (a === "") - (b === "");
    return numeric ? Number(a) - Number(b) : a.localeCompare(b, undefined, { sensitivity: "base" });
  };

  const answers = {
    table_rows(msg, recipe) {
      const column = Number.isInteger(msg.sort) ? msg.sort : -2;
      let order = selectedIds().sort((a, b) => a - b);
      const key = (i) => (column === -1 ? texts[i] ?? "" : recipe.cells ? recipe.cells[i][column] ?? "" : "");
      if (column !== -2 && (column === -1 || recipe.cells)) {
        const numeric = column >= 0 && (values.table_numeric ?? [])[column];
        order = order.map((i) => [i, key(i)]);
        order.sort((a, b) => (msg.descending ? -1 : 1) * compareCells(a[1], b[1], numeric) || a[0] - b[0]);
        order = order.map(([i]) => i);
        if (msg.descending) order = [...order.filter((i) => key(i) !== ""), ...order.filter((i) => key(i) === "")];
      } else if (msg.descending) order.reverse();
      const offset = Math.max(0, msg.offset ?? 0);
      const ids = order.slice(offset, offset + Math.min(msg.limit ?? 100, 500));
      const out = { total: order.length, sort: column, offset, ids };
      if (Number.isInteger(msg.locate) && msg.locate >= 0) out.rank = order.indexOf(msg.locate);
      out.labels = ids.map((i) => (recipe.labels ? recipe.labels[i] : String(i)));
      out.texts = ids.map((i) => texts[i] ?? "");
      out.cells = recipe.cells ? ids.map((i) => recipe.cells[i]) : [];
      return out;
    },
    texts(msg) {
      const ids = (msg.ids ?? []).slice(0, 500);
      return { ids, texts: ids.map((i) => (i >= 0 && i < texts.length ? texts[i] : "")) };
    },
    thumbs(msg, recipe) {
      const ids = tables[recipe.ids];
      const offsets = tables[recipe.offsets];
      const types = [];
      const buffers = [];
      for (const id of msg.ids ?? []) {
        const k = ids.indexOf(id);
        if (k < 0) {
          types.push("");
          continue;
        }
        types.push(recipe.types[k]);
        buffers.push(slice(recipe.bytes, offsets[k], offsets[k + 1]));
      }
      return [{ ids: msg.ids ?? [], types }, buffers];
    },
    matrix_cell(msg, recipe) {
      const { row, col } = msg;
      if (!inMatrix(recipe, row) || !inMatrix(recipe, col)) return { error: "cell out of range" };
      const shown = tables[recipe.shown];
      const [i, j] = [shown[row], shown[col]];
      return { row, col, i, j, score: matrixScore(recipe, row, col), texts: [texts[i] ?? "", texts[j] ?? ""] };
    },
    matrix_similar(msg, recipe) {
      // The row's most similar other rows, best first (as the kernel's "similar" answers).
      const { row } = msg;
      if (!inMatrix(recipe, row)) return { error: "row out of range" };
      const size = values[recipe.size];
      const shown = tables[recipe.shown];
      const cols = [...Array(size).keys()].filter((c) => c !== row);
      const scored = cols.map((c) => [c, matrixScore(recipe, row, c)]).sort((a, b) => b[1] - a[1]);
      const items = scored.slice(0, recipe.count).map(([c, score]) => ({ row: c, i: shown[c], score, text: texts[shown[c]] ?? "" }));
      return { row, i: shown[row], text: texts[shown[row]] ?? "", items };
    },
  };

  const reactions = {
    rows(name, recipe) {
      const v = values[name];
      const width = recipe.width;
      const rows = Object.values(recipe.tables).map((t) => tables[t].length / width);
      const ok = Number.isInteger(v) && v >= 0 && v < Math.min(...rows);
      for (const [trait, table] of Object.entries(recipe.tables)) {
        assign(trait, ok ? slice(table, v * width, (v + 1) * width) : slice(table, 0, 0));
      }
    },
    message(name, recipe) {
      for (const [trait, value] of Object.entries(isEmpty(values[name]) ? recipe.clear ?? {} : recipe.set ?? {})) {
        assign(trait, value);
      }
    },
    revert(name, recipe) {
      assign(name, exported[name]);
      for (const [trait, value] of Object.entries(recipe.set ?? {})) assign(trait, value);
    },
  };

  return {
    get: (name) => values[name],
    set(name, value) {
      assign(name, value);
      dirty.add(name);
    },
    save_changes() {
      const names = [...dirty];
      dirty.clear();
      // The kernel reacts after a round trip; so does this host.
      setTimeout(() => {
        for (const name of names) {
          const recipe = offline.reactions?.[name];
          if (recipe) reactions[recipe.type]?.(name, recipe);
        }
      }, 0);
    },
    on(name, callback) {
      for (const one of name.split(/\s+/)) {
        if (!listeners.has(one)) listeners.set(one, []);
        listeners.get(one).push(callback);
      }
    },
    off(name, callback) {
      for (const one of (name ?? "").split(/\s+/)) {
        const list = listeners.get(one);
        if (!list) continue;
        if (callback) listeners.set(one, list.filter((f) => f !== callback));
        else listeners.delete(one);
      }
    },
    send(msg) {
      if (!msg || typeof msg !== "object") return;
      const kind = msg.kind;
      const recipe = offline.requests?.[kind] ?? (kind === "texts" ? { type: "texts" } : null);
      let result;
      try {
        result = recipe && answers[recipe.type] ? answers[recipe.type](msg, recipe) : { error: `${kind}: ${NEEDS_KERNEL}` };
      } catch (error) {
        result = { error: `${kind}: ${error}` };
      }
      const [content, buffers] = Array.isArray(result) ? result : [result, []];
      reply({ kind, req: msg.req, ...content }, buffers);
    },
    widget_manager: null,
  };
}

/** Typed views of the offline tables, by name. */
function tableViews(specs, parts) {
  const kinds = { uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, int32: Int32Array, float32: Float32Array };
  const views = {};
  for (const [name, spec] of Object.entries(specs)) {
    const bytes = parts(spec.part);
    // Copy so that every table is aligned for its element type.
    views[name] = new kinds[spec.dtype](bytes.slice().buffer);
  }
  return views;
}

async function main() {
  const host = document.getElementById("enb-root");
  try {
    const meta = JSON.parse(document.getElementById("enb-meta").textContent);
    const blob = await gunzip(bytesOfBase64(document.getElementById("enb-blob").textContent));
    const part = ([offset, length]) => blob.subarray(offset, offset + length);
    const text = (where) => new TextDecoder().decode(part(where));

    const style = document.createElement("style");
    style.textContent = text(meta.parts.css);
    document.head.append(style);

    const offline = JSON.parse(text(meta.parts.offline));
    const tables = tableViews(meta.tables, part);
    const state = meta.state;
    putBuffers(
      state,
      meta.buffer_paths,
      meta.parts.buffers.map((where) => {
        const bytes = part(where).slice();
        return new DataView(bytes.buffer);
      }),
    );
    const model = offlineModel(state, offline, tables);
    const url = URL.createObjectURL(new Blob([text(meta.parts.module)], { type: "text/javascript" }));
    const module = await import(url);
    const widget = module.default ?? module;
    const render = widget.render ?? module.render;
    const initialize = widget.initialize ?? module.initialize;
    if (initialize) await initialize({ model });
    await render({ model, el: host });
    document.body.dataset.enbReady = "1";
  } catch (error) {
    const box = document.createElement("pre");
    box.className = "enb-error";
    box.textContent = `This exported view could not start: ${error}`;
    host.append(box);
    document.body.dataset.enbReady = "error";
    throw error;
  }
}

main();
