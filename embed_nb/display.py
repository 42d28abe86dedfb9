"""HTML and plain-text views of the result types, for notebooks and terminals.

Every piece of document text is untrusted: it goes through :func:`html.escape` before it
reaches any HTML here, and nothing here emits a script. Views are bounded (a few rows, a few
values per row), so showing a 100,000-row result costs as little as showing a 3-row one.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from .results import Embeddings, Projection, RerankResult, SearchResult, SimilarityMatrix

#: Rows shown before "... N more".
MAX_ROWS = 10
#: Leading values of each vector shown.
MAX_VALUES = 6
#: Characters of a document shown in a table cell.
MAX_CHARS = 160
#: Rows and columns of a similarity matrix shown as a table.
MAX_MATRIX = 24
#: Points drawn in a static projection map.
MAX_POINTS = 5000
#: Up to this many points, a static map writes each label beside its point.
MAX_LABELLED = 40

_STYLE = (
    "<style>"
    ".embed-nb{font-family:var(--jp-content-font-family,sans-serif);font-size:13px}"
    ".embed-nb table{border-collapse:collapse;margin-top:4px}"
    ".embed-nb th,.embed-nb td{padding:2px 8px;text-align:left;vertical-align:top;"
    "border-bottom:1px solid rgba(128,128,128,.25)}"
    ".embed-nb td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    ".embed-nb .vals{font-family:var(--jp-code-font-family,monospace);font-size:12px;"
    "white-space:nowrap}"
    ".embed-nb .bar{display:inline-block;height:10px;background:#4c78a8;"
    "vertical-align:middle;border-radius:2px}"
    ".embed-nb .note{opacity:.75}"
    "</style>"
)


# --- small helpers -------------------------------------------------------------------------


def esc(text: object) -> str:
    """``html.escape`` of ``str(text)``, quotes included."""
    return html.escape(str(text), quote=True)


def one_line(text: object) -> str:
    """``text`` as one printable line, for an error message: line breaks, NUL and other
    control characters are written as escapes (``\\n``, ``\\x00``), and so are lone surrogates,
    which no terminal or notebook stream can encode."""
    value = str(text).encode("utf-8", "backslashreplace").decode("utf-8")
    if value.isprintable():
        return value
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in value)


def clip(text: str, limit: int = MAX_CHARS) -> str:
    """One line of at most ``limit`` characters (the rest becomes an ellipsis)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def normalize_label(mode: int) -> str:
    """llama.cpp's ``embd_normalize`` values in words."""
    return {
        -1: "not normalised",
        0: "max-abs scaled to 32760",
        1: "L1-normalised",
        2: "L2-normalised",
    }.get(mode, f"{mode}-norm normalised")


def values(row: np.ndarray, count: int = MAX_VALUES) -> str:
    """The first ``count`` values of a vector, then an ellipsis if there are more."""
    shown = ", ".join(f"{float(x): .4f}" for x in row[:count])
    return f"[{shown}{', …' if len(row) > count else ''}]"


def bar_widths(scores: Sequence[float]) -> list[float]:
    """Bar lengths in percent, from the lowest score shown (short) to the highest (full)."""
    finite = [s for s in scores if math.isfinite(s)]
    if not finite:
        return [0.0 for _ in scores]
    low, high = min(finite), max(finite)
    if high - low < 1e-12:
        return [100.0 for _ in scores]
    return [max(4.0, 100.0 * (s - low) / (high - low)) if math.isfinite(s) else 0.0 for s in scores]


def _more(total: int, shown: int, what: str = "rows") -> str:
    return f"<div class='note'>… {total - shown:,} more {what}</div>" if total > shown else ""


def _wrap(header: str, body: str) -> str:
    return f"{_STYLE}<div class='embed-nb'><div>{header}</div>{body}</div>"


# --- Embeddings ----------------------------------------------------------------------------


def _embeddings_facts(e: Embeddings) -> list[str]:
    facts = [f"model {e.model}", f"pooling {e.pooling}"]
    if e.vectors is not None:
        facts.append(normalize_label(e.normalize))
    n = len(e.texts)
    facts.append(
        f"{e.total_tokens:,} tokens" + (f" ({e.total_tokens / n:.1f} per text)" if n > 1 else "")
    )
    if e.truncate:
        facts.append("long texts truncated")
    if e.chunk:
        facts.append("long texts chunked and averaged")
    hits = e.extra.get("cache_hits")
    if hits is not None:
        facts.append(f"{hits:,} of {n:,} from cache")
    return facts


def _embeddings_shape(e: Embeddings) -> str:
    if e.vectors is None:
        return f"{len(e.texts):,} texts × tokens × {e.dim} (per-token vectors)"
    return " × ".join(f"{n:,}" for n in e.vectors.shape) + " float32"


def _embeddings_rows(e: Embeddings) -> list[tuple[int, str, int, str]]:
    rows = []
    for i in range(min(len(e.texts), MAX_ROWS)):
        if e.vectors is not None:
            row = e.vectors if e.vectors.ndim == 1 else e.vectors[i]
            shown = values(row)
        else:
            assert e.token_vectors is not None
            tokens = e.token_vectors[i]
            shown = f"{tokens.shape[0]} × {tokens.shape[1]}: first token {values(tokens[0])}"
        rows.append((i, e.texts[i], e.token_counts[i], shown))
    return rows


def embeddings_html(e: Embeddings) -> str:
    header = f"<b>Embeddings</b> {esc(_embeddings_shape(e))} · " + " · ".join(
        esc(fact) for fact in _embeddings_facts(e)
    )
    body = "".join(
        f"<tr><td class='num'>{i}</td><td>{esc(clip(text))}</td><td class='num'>{n}</td>"
        f"<td class='vals'>{esc(shown)}</td></tr>"
        for i, text, n, shown in _embeddings_rows(e)
    )
    table = (
        "<table><thead><tr><th>#</th><th>text</th><th>tokens</th><th>values</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
    return _wrap(header, table + _more(len(e.texts), MAX_ROWS))


def embeddings_text(e: Embeddings) -> str:
    lines = [f"Embeddings {_embeddings_shape(e)}", "  " + " · ".join(_embeddings_facts(e))]
    for i, text, n, shown in _embeddings_rows(e):
        lines.append(f"  [{i}] {clip(text, 60)!r} ({n} tokens) {shown}")
    if len(e.texts) > MAX_ROWS:
        lines.append(f"  … {len(e.texts) - MAX_ROWS:,} more rows")
    return "\n".join(lines)


# --- RerankResult and SearchResult ---------------------------------------------------------


def rerank_method(method: str) -> str:
    if method == "rank":
        return "reranker (RANK) scores"
    if method == "cosine":
        return (
            "cosine similarity: this is an embedding model, not a reranker; "
            "load a reranker GGUF for cross-encoder scores"
        )
    return method


def _thumb_cells(media: Sequence[Any] | None, count: int) -> list[str]:
    """An inline ``<img>`` of each shown row's kernel-made thumbnail (a ``data:`` URI, so
    nothing is fetched), or ``""`` for a row that is a text."""
    if not media or all(item is None for item in media[:count]):
        return [""] * count
    from .thumbnails import thumbnail_data_uri

    cells = []
    for k in range(count):
        uri = thumbnail_data_uri(media[k]) if k < len(media) else None
        cells.append(
            f"<img src='{esc(uri)}' alt='' style='height:40px;vertical-align:middle;"
            "margin-right:6px;border-radius:2px'>"
            if uri
            else ""
        )
    return cells


def _ranked_html(
    header: str,
    ranked: Sequence[tuple[int, int, float, str]],
    total: int,
    what: str,
    media: Sequence[Any] | None = None,
) -> str:
    shown = ranked[:MAX_ROWS] if len(ranked) > MAX_ROWS * 5 else ranked
    widths = bar_widths([score for _, _, score, _ in shown])
    thumbs = _thumb_cells(media, len(shown))
    body = "".join(
        f"<tr><td class='num'>{rank}</td><td class='num'>{score:.4f}</td>"
        f"<td><span class='bar' style='width:{width * 0.8:.1f}px'></span></td>"
        f"<td class='num'>{index}</td><td>{thumb}{esc(clip(doc))}</td></tr>"
        for (rank, index, score, doc), width, thumb in zip(shown, widths, thumbs, strict=True)
    )
    table = (
        "<table><thead><tr><th>rank</th><th>score</th><th></th><th>index</th>"
        f"<th>{esc(what)}</th></tr></thead><tbody>{body}</tbody></table>"
    )
    return _wrap(header, table + _more(total, len(shown)))


def _ranked_text(header: str, ranked: Sequence[tuple[int, int, float, str]], total: int) -> str:
    lines = [header]
    shown = ranked[:MAX_ROWS] if len(ranked) > MAX_ROWS * 5 else ranked
    for rank, index, score, doc in shown:
        lines.append(f"  {rank:>3}. {score: .4f}  [{index}] {clip(doc, 80)}")
    if total > len(shown):
        lines.append(f"  … {total - len(shown):,} more")
    return "\n".join(lines)


def _rerank_rows(r: RerankResult) -> list[tuple[int, int, float, str]]:
    return [(rank, h.index, h.score, h.document) for rank, h in enumerate(r.hits, 1)]


def rerank_html(r: RerankResult) -> str:
    header = (
        f"<b>Rerank</b> “{esc(clip(r.query, 200))}” · model {esc(r.model)} · "
        f"{esc(rerank_method(r.method))} · {r.total_tokens:,} tokens"
    )
    return _ranked_html(header, _rerank_rows(r), len(r.hits), "document")


def rerank_text(r: RerankResult) -> str:
    header = f"Rerank {clip(r.query, 80)!r} · model {r.model} · {rerank_method(r.method)}"
    return _ranked_text(header, _rerank_rows(r), len(r.hits))


def _search_rows(s: SearchResult) -> list[tuple[int, int, float, str]]:
    return [(h.rank, h.index, h.score, h.document) for h in s.hits]


def search_html(s: SearchResult) -> str:
    header = (
        f"<b>Search</b> “{esc(clip(s.query, 200))}” · model {esc(s.model)} · "
        f"top {len(s.hits)} of {s.corpus_size:,} by cosine similarity"
    )
    # A hit that is an image carries it as ``media`` (None or absent for a text hit).
    media = [getattr(h, "media", None) for h in s.hits]
    return _ranked_html(header, _search_rows(s), len(s.hits), "document", media)


def search_text(s: SearchResult) -> str:
    header = (
        f"Search {clip(s.query, 80)!r} · model {s.model} · "
        f"top {len(s.hits)} of {s.corpus_size:,} by cosine similarity"
    )
    return _ranked_text(header, _search_rows(s), len(s.hits))


# --- similarity matrices and maps ----------------------------------------------------------


def _cell_colour(value: float) -> str:
    """Blue for similar (1), white-ish at 0, orange for opposite (-1)."""
    if not math.isfinite(value):
        return "transparent"
    v = max(-1.0, min(1.0, value))
    if v >= 0:
        return f"rgba(76,120,168,{0.08 + 0.8 * v:.2f})"
    return f"rgba(245,133,24,{0.08 + 0.8 * -v:.2f})"


def similarity_html(m: SimilarityMatrix) -> str:
    matrix = m.matrix
    rows, cols = min(matrix.shape[0], MAX_MATRIX), min(matrix.shape[1], MAX_MATRIX)
    header = f"<b>Cosine similarity</b> {matrix.shape[0]:,} × {matrix.shape[1]:,}" + (
        f" · model {esc(m.model)}" if m.model else ""
    )
    head = "".join(
        f"<th title='{esc(label)}'>{esc(clip(label, 14))}</th>" for label in m.col_labels[:cols]
    )
    body = []
    for i in range(rows):
        cells = "".join(
            f"<td class='num' style='background:{_cell_colour(float(matrix[i, j]))}'>"
            f"{float(matrix[i, j]):.2f}</td>"
            for j in range(cols)
        )
        label = m.row_labels[i]
        body.append(f"<tr><th title='{esc(label)}'>{esc(clip(label, 40))}</th>{cells}</tr>")
    table = f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    more = ""
    if matrix.shape[0] > rows or matrix.shape[1] > cols:
        more = f"<div class='note'>showing the first {rows} × {cols}</div>"
    return _wrap(header, table + more)


def similarity_text(m: SimilarityMatrix) -> str:
    matrix = m.matrix
    rows, cols = min(matrix.shape[0], MAX_ROWS), min(matrix.shape[1], MAX_ROWS)
    lines = [f"Cosine similarity {matrix.shape[0]} × {matrix.shape[1]}"]
    width = min(24, max((len(clip(x, 24)) for x in m.row_labels[:rows]), default=0))
    for i in range(rows):
        cells = " ".join(f"{float(matrix[i, j]):6.3f}" for j in range(cols))
        lines.append(f"  {clip(m.row_labels[i], 24):<{width}}  {cells}")
    if matrix.shape[0] > rows or matrix.shape[1] > cols:
        lines.append(f"  (showing the first {rows} × {cols})")
    return "\n".join(lines)


def projection_svg(p: Projection, size: int = 420) -> str:
    """A static scatter plot: one circle per point, its label as a hover tooltip."""
    coords = p.coords
    n = coords.shape[0]
    step = max(1, math.ceil(n / MAX_POINTS))
    pad = 12
    xs, ys = coords[::step, 0], coords[::step, 1]
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = float(ys.min()), float(ys.max())
    sx = (size - 2 * pad) / (x1 - x0 if x1 > x0 else 1.0)
    sy = (size - 2 * pad) / (y1 - y0 if y1 > y0 else 1.0)
    points = []
    for k, (x, y) in enumerate(zip(xs.tolist(), ys.tolist(), strict=True)):
        cx, cy = pad + (x - x0) * sx, size - pad - (y - y0) * sy
        label = p.labels[k * step] if p.labels else str(k * step)
        points.append(
            f"<circle cx='{cx:.1f}' cy='{cy:.1f}' r='3.5' fill='#4c78a8' fill-opacity='.7'>"
            f"<title>{esc(clip(label))}</title></circle>"
        )
        if n <= MAX_LABELLED:  # few points: write their labels beside them
            anchor = "end" if cx > size / 2 else "start"
            dx = -6 if anchor == "end" else 6
            points.append(
                f"<text x='{cx + dx:.1f}' y='{cy + 3:.1f}' font-size='10' text-anchor='{anchor}' "
                f"fill='currentColor'>{esc(clip(label, 32))}</text>"
            )
    svg = (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{size}' height='{size}' "
        f"style='border:1px solid rgba(128,128,128,.3)'>{''.join(points)}</svg>"
    )
    header = f"<b>{esc(p.method.upper())} map</b> of {n:,} points" + (
        f" · model {esc(p.model)}" if p.model else ""
    )
    note = "<div class='note'>hover a point for its text</div>"
    if step > 1:
        note = f"<div class='note'>every {step}th point drawn; hover a point for its text</div>"
    return _wrap(header, svg + note)
