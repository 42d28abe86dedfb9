// RerankList: a query box, a top-n slider and documents with score bars, reranked in the kernel.
// The score is text beside its bar (never on it), in the theme's text colour; the query's words
// are marked in each document (text nodes and <mark> elements, never innerHTML); arrow keys
// step through the list, Enter or Space selects a document, Escape clears.
import { el, fmt, queryInput, requester, rovingList, textCache, typed } from "./common.js";

// Words too common to be worth marking in a document.
const STOP_WORDS = new Set(
  ("a an and are as at be but by for from has have how i in is it its of on or that the this " +
    "to was were what when where which who why will with you your do does did not no can")
    .split(" "),
);
const WORD = /[\p{L}\p{N}]+/gu; // a whole word: "panda" in "Panda's", not in "pandas"

/** The query's words worth marking: lower case, stop words and single letters left out. */
export function queryWords(query) {
  const words = new Set();
  for (const match of String(query).matchAll(WORD)) {
    const word = match[0].toLowerCase();
    if (word.length > 1 && !STOP_WORDS.has(word)) words.add(word);
  }
  return words;
}

/** Append `text` to `node`, each whole-word match of `words` in a <mark> (text nodes only). */
export function appendMarked(node, text, words) {
  let at = 0;
  if (words.size) {
    for (const match of text.matchAll(WORD)) {
      if (!words.has(match[0].toLowerCase())) continue;
      if (match.index > at) node.append(document.createTextNode(text.slice(at, match.index)));
      node.append(el("mark", "enb-hit", match[0]));
      at = match.index + match[0].length;
    }
  }
  if (at < text.length) node.append(document.createTextNode(text.slice(at)));
  return node;
}

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
    if (event.key === "ArrowDown" && list.querySelector(".enb-rr-row")) {
      event.preventDefault();
      event.stopPropagation();
      keys.focusAt(0);
    }
  });
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "reranked documents");
  const select = (index) => {
    model.set("selected", index);
    model.save_changes();
    markSelected();
  };
  const keys = rovingList(list, ".enb-rr-row", {
    onActivate: (row) => select(Number(row.dataset.index)),
    onEscape: () => {
      select(-1);
      search.focus();
    },
  });
  function markSelected() {
    const chosen = model.get("selected");
    for (const row of list.querySelectorAll(".enb-rr-row")) {
      row.setAttribute("aria-selected", Number(row.dataset.index) === chosen ? "true" : "false");
    }
  }
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
    const words = queryWords(model.get("query"));
    order.forEach((index, k) => {
      const row = el("div", "enb-rr-row");
      row.dataset.index = String(index);
      row.setAttribute("role", "option");
      row.addEventListener("click", () => select(index));
      const barBox = el("div", "enb-bar");
      barBox.setAttribute("aria-hidden", "true");
      const fill = el("div");
      fill.style.width = method ? `${(100 * (scores[k] - lo)) / (hi - lo)}%` : "0";
      barBox.append(fill);
      const score = el("div", "enb-rr-score", method ? fmt(scores[k], 4) : "–");
      const text = appendMarked(el("div", "enb-text"), found[k], words);
      row.append(el("div", "enb-rr-rank", String(k + 1)), score, barBox, text);
      list.append(row);
    });
    keys.refresh();
    markSelected();
    root.dataset.query = model.get("query");
    root.dataset.rows = String(order.length);
  }

  for (const name of ["order", "scores", "top_n", "error"]) model.on(`change:${name}`, show);
  model.on("change:selected", markSelected);
  model.on("change:busy", () => root.classList.toggle("enb-busy", model.get("busy")));
  model.on("change:query", () => {
    if (document.activeElement !== search) search.value = model.get("query");
  });
  show();
  return () => request.dispose();
}

export default { render };
