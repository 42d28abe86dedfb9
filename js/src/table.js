// The selection as a table, under the ProjectionView's map (issue 15).
//
// The table lists the selected points: their frame label, their text and the frame columns
// the kernel names in `table_columns`. It is virtualised: only the rows in sight are in the
// DOM, and their contents come from the kernel a page at a time (`table_rows` requests, like
// hover texts), already sorted there, so ten thousand selected rows cost what twenty do.
// A row's "neighbours" button focuses its point (the kernel answers `focused` with
// `neighbors`) and lists them under the row. Keyboard: arrows, PageUp/PageDown, Home/End
// move the row focus; Enter centres the point; ArrowRight/ArrowLeft open/close its
// neighbours; Escape closes them, then clears the selection.
//
// Every text (labels, documents, cells) reaches the DOM through textContent (`el`) or a
// `title` property, never as markup.
import { el, fmt, typed } from "./common.js";

const ROW_H = 26; // px, every row the same height: a row's place is rank * ROW_H
const PAGE = 100; // rows per kernel request
const OVERSCAN = 8; // rows drawn above and below the visible ones
const PANEL_H = 212; // px, the neighbours list opened under a row
const SORT_INDEX = -2;
const SORT_TEXT = -1;

let tables = 0;

/**
 * Build the table and append it to `host`.
 *
 * @param host the element to append the table to (under the map)
 * @param model the view's model (`selected`, `focused`, `neighbors`, `table_*` traits)
 * @param request the view's `requester` (the kernel answers `table_rows`)
 * @param texts the view's `textCache` (the neighbours' texts)
 * @param zoomTo called with point indices to centre them on the map
 * @returns `{ element, dispose }`
 */
export function mountSelectionTable(host, { model, request, texts, zoomTo = () => {} }) {
  const uid = `enb-table-${++tables}`;
  const root = el("div", "enb-table");
  const title = el("div", "enb-table-title");
  const count = el("span", "enb-legend-title");
  const hint = el(
    "span",
    "enb-muted",
    "click a row to centre its point · ↑/↓ move · Enter centres · → neighbours · Esc",
  );
  title.append(count, hint);
  const empty = el("div", "enb-muted enb-table-empty", "No selection: shift-drag on the map to lasso points, and their rows show here.");
  const scroller = el("div", "enb-table-scroll");
  scroller.tabIndex = 0;
  scroller.setAttribute("role", "grid");
  scroller.setAttribute("aria-label", "selected rows");
  // Keys pressed here are the table's, not JupyterLab's notebook shortcuts.
  scroller.dataset.lmSuppressShortcuts = "true";
  const header = el("div", "enb-table-row enb-table-header");
  header.setAttribute("role", "row");
  const body = el("div", "enb-table-body");
  body.setAttribute("role", "rowgroup");
  scroller.append(header, body);
  root.append(title, empty, scroller);
  host.append(root);

  // --- state ---------------------------------------------------------------------------------
  let total = 0;
  let sort = { column: SORT_INDEX, descending: false };
  let generation = 0; // bumped when the rows' order changes: late replies are dropped
  const pages = new Map(); // page number -> { ids, labels, texts, cells }
  const asked = new Set();
  let cursor = -1; // the rank of the row with the keyboard focus
  let expanded = null; // { id, rank, ids, scores } of the row whose neighbours are open
  let frame = 0;

  const columns = () => model.get("table_columns") ?? [];
  const numeric = () => model.get("table_numeric") ?? [];
  const rowAt = (rank) => {
    const page = pages.get(Math.floor(rank / PAGE));
    if (!page) return null;
    const k = rank - Math.floor(rank / PAGE) * PAGE;
    return k < page.ids.length ? { id: page.ids[k], label: page.labels[k], text: page.texts[k], cells: page.cells[k] ?? [] } : null;
  };
  const top = (rank) => rank * ROW_H + (expanded && rank > expanded.rank ? PANEL_H : 0);

  function layoutColumns() {
    const tracks = ["minmax(4em, auto)", "minmax(14em, 3fr)", ...columns().map(() => "minmax(6em, 1fr)"), "7.5em"];
    root.style.setProperty("--enb-table-cols", tracks.join(" "));
  }

  // --- header: click to sort ---------------------------------------------------------------
  function showHeader() {
    layoutColumns();
    const names = [["#", SORT_INDEX, true], ["text", SORT_TEXT, false], ...columns().map((name, k) => [name, k, numeric()[k]])];
    header.replaceChildren(
      ...names.map(([name, column, isNumber]) => {
        const cell = el("div", `enb-table-th${isNumber ? " enb-num" : ""}`);
        cell.setAttribute("role", "columnheader");
        const active = sort.column === column;
        cell.setAttribute("aria-sort", active ? (sort.descending ? "descending" : "ascending") : "none");
        const button = el("button", "enb-table-sort", `${name}${active ? (sort.descending ? " ▼" : " ▲") : ""}`);
        button.type = "button";
        button.tabIndex = -1;
        button.title = `sort by ${name}`;
        button.dataset.column = String(column);
        button.addEventListener("click", () => sortBy(column));
        cell.append(button);
        return cell;
      }),
      actionHeader(),
    );
  }

  function actionHeader() {
    const cell = el("div", "enb-table-th");
    cell.setAttribute("role", "columnheader");
    return cell;
  }

  function sortBy(column) {
    sort = { column, descending: sort.column === column ? !sort.descending : false };
    root.dataset.sort = `${column}${sort.descending ? ":desc" : ":asc"}`;
    restart({ keepScroll: false });
    showHeader();
  }

  // --- rows ----------------------------------------------------------------------------------
  function restart({ keepScroll = false } = {}) {
    generation++;
    pages.clear();
    asked.clear();
    cursor = -1;
    expanded = null;
    if (!keepScroll) scroller.scrollTop = 0;
    scroller.removeAttribute("aria-activedescendant");
    delete root.dataset.cursor;
    delete root.dataset.neighbors;
    render();
  }

  async function fetchPage(page) {
    if (asked.has(page)) return;
    asked.add(page);
    const mine = generation;
    const reply = await request("table_rows", { offset: page * PAGE, limit: PAGE, sort: sort.column, descending: sort.descending });
    if (mine !== generation || !reply) return;
    if (reply.error) {
      count.textContent = reply.error;
      return;
    }
    total = reply.total;
    pages.set(page, reply);
    schedule();
  }

  function schedule() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      render();
    });
  }

  function render() {
    const has = total > 0;
    empty.hidden = has;
    scroller.hidden = !has;
    count.textContent = `${total.toLocaleString()} selected row${total === 1 ? "" : "s"}`;
    root.dataset.total = String(total);
    scroller.setAttribute("aria-rowcount", String(total + 1));
    body.style.height = `${total * ROW_H + (expanded ? PANEL_H : 0)}px`;
    if (!has) {
      body.replaceChildren();
      return;
    }
    const height = scroller.clientHeight || 10 * ROW_H;
    const scrolled = Math.max(0, scroller.scrollTop - ROW_H); // the sticky header's row
    const first = Math.max(0, Math.floor((scrolled - (expanded ? PANEL_H : 0)) / ROW_H) - OVERSCAN);
    const last = Math.min(total - 1, Math.ceil((scrolled + height) / ROW_H) + OVERSCAN);
    for (let page = Math.floor(first / PAGE); page <= Math.floor(last / PAGE); page++) {
      if (!pages.has(page)) fetchPage(page);
    }
    const focused = model.get("focused");
    const rows = [];
    let loaded = 0;
    for (let rank = first; rank <= last; rank++) {
      const row = rowAt(rank);
      if (row) loaded++;
      rows.push(drawRow(rank, row, focused));
    }
    if (expanded) rows.push(drawPanel());
    body.replaceChildren(...rows);
    root.dataset.loaded = String(loaded);
  }

  function drawRow(rank, row, focused) {
    const line = el("div", "enb-table-row");
    line.id = `${uid}-r${rank}`;
    line.setAttribute("role", "row");
    line.setAttribute("aria-rowindex", String(rank + 2));
    line.style.top = `${top(rank)}px`;
    line.dataset.rank = String(rank);
    if (rank === cursor) {
      line.classList.add("enb-cursor");
      line.setAttribute("aria-selected", "true");
    }
    if (!row) {
      line.append(el("div", "enb-table-td enb-muted", "…"));
      return line;
    }
    line.dataset.index = String(row.id);
    if (row.id === focused) line.classList.add("enb-focused");
    const cell = (text, className = "") => {
      const td = el("div", `enb-table-td ${className}`, text);
      td.setAttribute("role", "gridcell");
      td.title = text;
      return td;
    };
    const textCell = cell(row.text, "enb-table-text");
    textCell.dir = "auto"; // right-to-left texts read right to left
    const numbers = numeric();
    line.append(cell(row.label, "enb-num"), textCell, ...row.cells.map((value, k) => cell(value, numbers[k] ? "enb-num" : "")));
    const action = el("div", "enb-table-td");
    action.setAttribute("role", "gridcell");
    const open = expanded && expanded.id === row.id;
    const button = el("button", "enb-table-nbrs-button", open ? "hide" : "neighbours");
    button.type = "button";
    button.tabIndex = -1;
    button.title = `the nearest neighbours of #${row.label}`;
    button.setAttribute("aria-expanded", String(Boolean(open)));
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      cursor = rank;
      toggleNeighbors(rank);
      scroller.focus({ preventScroll: true }); // the keys stay the table's (rows are redrawn)
    });
    action.append(button);
    line.append(action);
    line.addEventListener("click", () => {
      moveTo(rank);
      centre(rank);
      scroller.focus({ preventScroll: true });
    });
    return line;
  }

  // --- neighbours under a row ----------------------------------------------------------------
  function drawPanel() {
    const panel = el("div", "enb-table-nbrs");
    panel.style.top = `${(expanded.rank + 1) * ROW_H}px`;
    panel.style.height = `${PANEL_H}px`;
    const row = rowAt(expanded.rank);
    panel.append(el("div", "enb-legend-title", `Nearest to #${row ? row.label : expanded.id}`));
    if (!expanded.ids) {
      panel.append(el("div", "enb-muted", "asking the kernel…"));
      return panel;
    }
    const list = el("ol", "enb-list");
    expanded.ids.forEach((id, k) => {
      const item = el("li");
      item.dataset.index = String(id);
      const text = el("div", "enb-text", texts.get(id) ?? "…");
      text.dir = "auto";
      item.append(el("div", "enb-score", `#${id} · ${fmt(expanded.scores[k], 4)}`), text);
      item.addEventListener("click", (event) => {
        event.stopPropagation();
        focusPoint(id);
        zoomTo([id]);
      });
      list.append(item);
    });
    panel.append(list);
    return panel;
  }

  function toggleNeighbors(rank, open = null) {
    const row = rowAt(rank);
    if (!row) return;
    const isOpen = expanded && expanded.id === row.id;
    if (open === false || (open === null && isOpen)) {
      expanded = null;
      delete root.dataset.neighbors;
      render();
      return;
    }
    if (isOpen) return;
    expanded = { id: row.id, rank, ids: null, scores: null };
    delete root.dataset.neighbors;
    if (model.get("focused") === row.id) showNeighbors();
    else focusPoint(row.id); // the kernel answers with `neighbors`
    render();
    ensureVisible(rank, PANEL_H);
  }

  async function showNeighbors() {
    if (!expanded || model.get("focused") !== expanded.id) return;
    const mine = expanded;
    const ids = Array.from(typed(model.get("neighbors"), Uint32Array));
    const scores = Array.from(typed(model.get("neighbor_scores"), Float32Array));
    await texts.fetch(ids);
    if (expanded !== mine) return;
    expanded = { ...mine, ids, scores };
    render();
    root.dataset.neighbors = String(ids.length);
    zoomTo([mine.id, ...ids]);
  }

  // --- focus: the row cursor and the focused point -------------------------------------------
  function focusPoint(id) {
    model.set("focused", id);
    model.save_changes();
  }

  function centre(rank) {
    const row = rowAt(rank);
    if (!row) return;
    focusPoint(row.id);
    zoomTo([row.id]);
  }

  function ensureVisible(rank, below = 0) {
    const y = top(rank);
    const view = scroller.clientHeight - ROW_H; // under the sticky header
    if (y < scroller.scrollTop) scroller.scrollTop = y;
    else if (y + ROW_H + below > scroller.scrollTop + view) scroller.scrollTop = y + ROW_H + below - view;
  }

  function moveTo(rank) {
    if (!total) return;
    cursor = Math.max(0, Math.min(total - 1, rank));
    root.dataset.cursor = String(cursor);
    ensureVisible(cursor);
    scroller.setAttribute("aria-activedescendant", `${uid}-r${cursor}`);
    render();
  }

  scroller.addEventListener("keydown", (event) => {
    const pageRows = Math.max(1, Math.floor(scroller.clientHeight / ROW_H) - 1);
    const moves = {
      ArrowDown: cursor + 1,
      ArrowUp: cursor - 1,
      PageDown: cursor + pageRows,
      PageUp: cursor - pageRows,
      Home: 0,
      End: total - 1,
    };
    if (event.key in moves) moveTo(cursor < 0 && event.key === "ArrowDown" ? 0 : moves[event.key]);
    else if (event.key === "Enter" && cursor >= 0) centre(cursor);
    else if (event.key === "ArrowRight" && cursor >= 0) toggleNeighbors(cursor, true);
    else if (event.key === "ArrowLeft" && cursor >= 0) toggleNeighbors(cursor, false);
    else if (event.key === "Escape") {
      if (expanded) toggleNeighbors(expanded.rank, false);
      else {
        model.set("focused", -1);
        model.set("selected", new Uint32Array(0));
        model.save_changes();
      }
    } else return;
    event.preventDefault();
    event.stopPropagation(); // arrows and Escape belong to the table, not the notebook
  });
  // Keep the notebook from reading the table's mouse-downs as the start of a cell drag.
  root.addEventListener("mousedown", (event) => event.stopPropagation());
  scroller.addEventListener("scroll", schedule);

  // --- scrolling to a point set from Python --------------------------------------------------
  async function scrollToPoint() {
    const id = model.get("table_scroll_to");
    if (id < 0) return;
    const mine = generation;
    const reply = await request("table_rows", { offset: 0, limit: PAGE, sort: sort.column, descending: sort.descending, locate: id });
    if (mine !== generation || !reply || reply.error || reply.rank < 0) return;
    total = reply.total;
    if (!pages.has(0)) pages.set(0, reply);
    moveTo(reply.rank);
    root.dataset.scrolledTo = String(id);
  }

  // --- wiring --------------------------------------------------------------------------------
  const onSelected = () => {
    total = typed(model.get("selected"), Uint32Array).length;
    restart();
    delete root.dataset.scrolledTo;
  };
  const onColumns = () => {
    if (sort.column >= columns().length) sort = { column: SORT_INDEX, descending: false };
    showHeader();
    restart({ keepScroll: true });
  };
  const handlers = {
    "change:selected": onSelected,
    "change:table_columns": onColumns,
    "change:table_numeric": onColumns,
    "change:table_scroll_to": scrollToPoint,
    "change:neighbors": showNeighbors,
    "change:focused": schedule,
  };
  for (const [event, handler] of Object.entries(handlers)) model.on(event, handler);

  total = typed(model.get("selected"), Uint32Array).length;
  root.dataset.sort = `${SORT_INDEX}:asc`;
  showHeader();
  render();

  return {
    element: root,
    dispose() {
      for (const [event, handler] of Object.entries(handlers)) model.off(event, handler);
      if (frame) cancelAnimationFrame(frame);
    },
  };
}
