// RerankList: a query box, a top-n slider and documents with score bars, reranked in the kernel.
import { el, fmt, queryInput, requester, textCache, typed } from "./common.js";

function render({ model, el: host }) {
  const request = requester(model);
  const texts = textCache(request);
  const root = el("div", "enb-root enb-rr");
  const bar = el("div", "enb-rr-bar");
  const search = queryInput(model, "Query: reranked in the kernel");
  const slider = el("input", "enb-top-n");
  slider.type = "range";
  slider.min = "1";
  const sliderLabel = el("span", "enb-note");
  bar.append(search, slider, sliderLabel);
  const info = el("div", "enb-note enb-rr-info");
  const list = el("div", "enb-rr-list");
  root.append(bar, info, list);
  host.append(root);

  let timer = null;
  const send = () => {
    clearTimeout(timer);
    if (model.get("query") === search.value) return;
    model.set("query", search.value);
    model.save_changes();
  };
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") send();
  });
  search.addEventListener("input", () => {
    clearTimeout(timer);
    if (model.get("live")) timer = setTimeout(send, 400);
  });
  slider.addEventListener("input", () => {
    model.set("top_n", Number(slider.value));
    model.save_changes();
  });

  let drawing = 0;
  async function show() {
    const token = ++drawing;
    const n = model.get("n_documents");
    const topN = Math.min(model.get("top_n"), n);
    slider.max = String(n);
    slider.value = String(topN);
    sliderLabel.textContent = `top ${topN} of ${n}`;
    const order = typed(model.get("order"), Uint32Array).subarray(0, topN);
    const scores = typed(model.get("scores"), Float32Array).subarray(0, topN);
    const error = model.get("error");
    const method = model.get("method");
    info.textContent = error
      ? ""
      : method
        ? `scores: ${method === "rank" ? "reranker (raw relevance)" : method === "cosine" ? "cosine similarity (embedding model)" : method}`
        : "Type a query to rerank.";
    const found = await texts.fetch(Array.from(order));
    if (token !== drawing) return;
    list.replaceChildren();
    if (error) list.append(el("div", "enb-error", error));
    const finite = Array.from(scores).filter(Number.isFinite);
    const lo = Math.min(0, ...finite);
    const hi = Math.max(...finite, lo + 1e-6);
    order.forEach((index, k) => {
      const row = el("div", "enb-rr-row");
      row.dataset.index = String(index);
      const barBox = el("div", "enb-bar");
      const fill = el("div");
      fill.style.width = method ? `${(100 * (scores[k] - lo)) / (hi - lo)}%` : "0";
      barBox.append(fill, el("span", "", method ? fmt(scores[k], 4) : "–"));
      row.append(el("div", "enb-rr-rank", String(k + 1)), barBox, el("div", "enb-text", found[k]));
      list.append(row);
    });
    root.dataset.query = model.get("query");
    root.dataset.rows = String(order.length);
  }

  for (const name of ["order", "scores", "top_n", "error"]) model.on(`change:${name}`, show);
  model.on("change:busy", () => root.classList.toggle("enb-busy", model.get("busy")));
  model.on("change:query", () => {
    if (document.activeElement !== search) search.value = model.get("query");
  });
  show();
  return () => request.dispose();
}

export default { render };
