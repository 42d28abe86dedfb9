"""llama-embedding's output formats (embedding.cpp, main(): the ``params.embd_out`` branches)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._parser import OUTPUT_FORMATS, _UsageError


@dataclass(frozen=True)
class Printed:
    """What llama-embedding prints: one row per embedding (per token with pooling none)."""

    rows: np.ndarray  # float32 (n_embeddings, n_embd), normalised as asked
    prompts: list[str]
    pooling: str
    normalize: int
    labels: list[str]  # a reranker's output labels; empty otherwise


def format_output(printed: Printed, fmt: str) -> str:
    """The text llama-embedding writes to stdout for ``--embd-output-format fmt``.

    Like llama-embedding, it always ends with one extra newline (its closing ``LOG("\\n")``).
    """
    if fmt == "":
        body = _format_summary(printed)
    elif fmt in ("json", "json+", "array"):
        body = _format_json(printed, fmt)
    elif fmt == "raw":
        body = _format_raw(printed)
    else:
        raise _UsageError(f"unknown output format {fmt!r}; use one of {OUTPUT_FORMATS}")
    return body + "\n"


def _value_format(normalize: int) -> str:
    # normalize 0 scales to the int16 range, so llama-embedding prints whole numbers.
    return "{:.0f}" if normalize == 0 else "{:.7f}"


def _format_summary(p: Printed) -> str:
    """The default print: ``embedding j:`` lines, the cosine matrix, or ``rerank score j:``."""
    cell = "{:6.0f} " if p.normalize == 0 else "{:9.6f} "
    n_embd = p.rows.shape[1]
    lines = [""]  # llama-embedding starts its output with an empty line
    if p.pooling == "none":
        for j, row in enumerate(p.rows.tolist()):
            head = "".join(cell.format(v) for v in row[: min(3, n_embd)])
            tail = "".join(cell.format(v) for v in row[max(n_embd - 3, 0) :])
            lines.append(f"embedding {j}: {head} ... {tail}")
    elif p.pooling == "rank":
        for j, row in enumerate(p.rows.tolist()):
            if n_embd == 1:
                lines.append(f"rerank score {j}: {row[0]:8.3f}")
            else:
                lines.extend(
                    f"rerank score {j}: {v:8.3f} [{label}]"
                    for v, label in zip(row, p.labels, strict=True)
                )
    else:
        n_prompts = len(p.prompts)
        shown = min(16, n_embd) if n_prompts > 1 else n_embd
        for j, row in enumerate(p.rows.tolist()):
            lines.append(f"embedding {j}: " + "".join(cell.format(v) for v in row[:shown]))
        if n_prompts > 1:
            # Prompts label the columns (first 6 characters, right-aligned) and rows (first 10).
            lines += ["", "cosine similarity matrix:", ""]
            lines.append("".join(f"{prompt[:6]:>6} " for prompt in p.prompts))
            for prompt, sims in zip(p.prompts, cosine_matrix(p.rows).tolist(), strict=True):
                lines.append("".join(f"{s:6.2f} " for s in sims) + prompt[:10])
    return "\n".join(lines) + "\n"


def _format_json(p: Printed, fmt: str) -> str:
    """``array``: ``[[...],[...]]``; ``json`` and ``json+``: the OpenAI-style list."""
    value = _value_format(p.normalize)
    vectors = ["[" + ",".join(map(value.format, row)) + "]" for row in p.rows.tolist()]
    if fmt == "array":
        return "[" + ",".join(vectors) + "]\n"
    items = [
        '    {\n      "object": "embedding",\n'
        f'      "index": {j},\n      "embedding": {vector}\n    }}'
        for j, vector in enumerate(vectors)
    ]
    text = '{\n  "object": "list",\n  "data": [\n' + ",\n".join(items) + "\n  ]"
    if fmt == "json+" and len(p.prompts) > 1:
        # Over every printed embedding (every token with pooling none), as llama-embedding does.
        rows = [
            "    [" + ", ".join(f"{s:6.2f}" for s in sims) + " ]"
            for sims in cosine_matrix(p.rows).tolist()
        ]
        text += ',\n  "cosineSimilarity": [\n' + ",\n".join(rows) + "\n  ]"
    return text + "\n}\n"


def _format_raw(p: Printed) -> str:
    """One embedding per line, values separated by one space (print_raw_embeddings)."""
    value = _value_format(p.normalize)
    return "".join(" ".join(map(value.format, row)) + "\n" for row in p.rows.tolist())


def cosine_matrix(rows: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarity with llama.cpp's ``common_embd_similarity_cos`` arithmetic.

    Products in float32 summed in float64, the quotient rounded to float32; two zero vectors
    count as similar (1), one zero vector as unrelated (0). Reproducing the arithmetic keeps
    the printed two-decimal values identical to llama-embedding's.
    """
    a = np.asarray(rows, dtype=np.float32)
    squares = (a * a).astype(np.float64).sum(axis=1)
    sims = np.empty((len(a), len(a)), dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(len(a)):
            dots = (a[i] * a).astype(np.float64).sum(axis=1)
            row = dots / (np.sqrt(squares[i]) * np.sqrt(squares))
            zero = (squares[i] == 0.0) | (squares == 0.0)
            both = (squares[i] == 0.0) & (squares == 0.0)
            sims[i] = np.where(both, 1.0, np.where(zero, 0.0, row))
    return sims
