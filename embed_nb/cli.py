"""The ``embed-nb`` command line: ``embed`` (as ``llama-embedding`` does it), ``rerank``, ``info``.

It is a thin front end. Every sub-command parses its arguments, calls :func:`embed_nb.load_model`
and then ``model.embed``, ``model.rerank`` or ``model.info``, and prints. The engine's results are
the same numbers the Python API gives; only their printing lives here.

``embed-nb embed`` writes what ``llama-embedding`` writes on stdout, byte for byte in structure
and number formatting (see ``examples/embedding/embedding.cpp`` in llama.cpp):

- ``--embd-output-format ""`` (the default): ``embedding j: ...`` summary lines, then a cosine
  similarity matrix when there are several prompts (``rerank score j: ...`` for a reranker);
- ``array``: ``[[...],[...]]``;
- ``json``: ``{"object": "list", "data": [{"object": "embedding", "index": j, "embedding":
  [...]}]}``; ``json+`` adds ``"cosineSimilarity"``;
- ``raw``: one embedding per line, values separated by single spaces.

Values print as C's ``%1.7f`` (``%1.0f`` with ``--embd-normalize 0``). With pooling ``none`` each
token is one embedding, numbered across all prompts, as llama-embedding does.

Errors a user can fix print as one line, ``embed-nb: error: <message>``, on stderr.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from .display import one_line
from .errors import (
    EmbedNbError,
    FileAccessError,
    InputTooLongError,
    InvalidInputError,
    ModelNotFoundError,
)
from .files import atomic_write, describe, read_capped
from .models import DEFAULT_MODEL

if TYPE_CHECKING:
    from .engine import LocalModel
    from .engine.remote import RemoteModel

    Model = LocalModel | RemoteModel

__all__ = ["build_parser", "main"]

PROG = "embed-nb"
OUTPUT_FORMATS = ("", "array", "json", "json+", "raw")
POOLINGS = ("none", "mean", "cls", "last", "rank")

# Exit codes: 2 for something typed wrong (as argparse does), 1 when the work itself failed.
EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


class _UsageError(EmbedNbError):
    """A CLI-only mistake found before any model is loaded (an unreadable input file, no text)."""


# --------------------------------------------------------------------------------------------
# Argument parsing


class _Parser(argparse.ArgumentParser):
    """argparse that reports a mistake as one line (no usage block): ``embed-nb: error: ...``."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix(PROG).strip()
        where = f" (see {PROG} {command} --help)" if command else f" (see {PROG} --help)"
        self.exit(EXIT_USAGE, f"{PROG}: error: {one_line(message)}{where}\n")


def _gpu_layers(value: str) -> int | None:
    """``-ngl``: a layer count, ``all`` (-1) or ``auto`` (the engine decides), as llama.cpp."""
    if value == "auto":
        return None
    if value == "all":
        return -1
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid value {value!r}: give a number of layers, 'all' or 'auto'"
        ) from None


def _add_model_options(parser: argparse.ArgumentParser, *, model_required: bool = False) -> None:
    from .settings import SETTINGS  # the default model, as every front end reads it

    default = SETTINGS.default_model
    group = parser.add_argument_group("model")
    group.add_argument(
        "-m",
        "--model",
        metavar="SOURCE",
        required=model_required,
        default=None if model_required else default,
        help="a .gguf path, hf://owner/repo/file.gguf, a BERT checkpoint directory, "
        f"a llama-server URL (http://host:port) or {DEFAULT_MODEL!r}"
        + ("" if model_required else f" (default: {default})"),
    )
    group.add_argument(
        "-c",
        "--ctx-size",
        type=int,
        metavar="N",
        help="context size in tokens; 0 = the model's training context (the default)",
    )
    group.add_argument(
        "-t", "--threads", type=int, metavar="N", help="CPU threads; -1 = all cores (the default)"
    )
    group.add_argument(
        "-ngl",
        "--n-gpu-layers",
        "--gpu-layers",
        dest="n_gpu_layers",
        type=_gpu_layers,
        metavar="N",
        help="layers to offload to the GPU: a number, 'all' or 'auto' (the default)",
    )
    group.add_argument(
        "-fa",
        "--flash-attn",
        choices=("auto", "on", "off"),
        help="flash attention (default: auto)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``embed-nb`` argument parser with its ``embed``, ``rerank`` and ``info`` commands."""
    parser = _Parser(
        prog=PROG,
        description="Text embeddings and reranking on a llama.cpp engine.",
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    embed = commands.add_parser(
        "embed",
        help="embed texts; the flags and output formats of llama.cpp's llama-embedding",
        description="Embed texts and print them the way llama.cpp's llama-embedding does.",
        allow_abbrev=False,
    )
    _add_model_options(embed)
    # -p and -f share one list so that texts keep the order they were given in.
    embed.add_argument(
        "-p",
        "--prompt",
        dest="inputs",
        action="append",
        type=lambda text: ("text", text),
        metavar="TEXT",
        help="text to embed, split into several by --embd-separator; may be repeated",
    )
    embed.add_argument(
        "-f",
        "--file",
        dest="inputs",
        action="append",
        type=lambda path: ("file", path),
        metavar="FILE",
        help="a file of texts, one per line (or split by --embd-separator); '-' reads stdin",
    )
    embed.add_argument(
        "--embd-separator",
        default="\n",
        metavar="SEP",
        help="separator between texts in a prompt or file (default: a newline)",
    )
    embed.add_argument(
        "--cls-separator",
        default="\t",
        metavar="SEP",
        help="separator of query and document in a reranker's prompt (default: a tab)",
    )
    embed.add_argument(
        "--embd-normalize",
        type=int,
        default=None,
        metavar="N",
        help="-1 none, 0 max-abs int16 range, 1 L1, 2 L2 (the default), >2 p-norm; "
        "a reranker's scores default to -1",
    )
    embed.add_argument(
        "--pooling", choices=POOLINGS, help="pooling type; the model's own if not given"
    )
    embed.add_argument(
        "--embd-output-format",
        choices=OUTPUT_FORMATS,
        default=None,
        metavar="FORMAT",
        help='"" = summary (the default), "array" = [[],[]...], "json" = OpenAI style, '
        '"json+" = json with a cosine similarity matrix, "raw" = one embedding per line',
    )
    embed.add_argument(
        "-o",
        "--output",
        metavar="FILE.npy",
        help="also save the embeddings as a float32 .npy array (one row per embedding); "
        "stdout then stays empty unless --embd-output-format is given",
    )
    fit = embed.add_mutually_exclusive_group()
    fit.add_argument("--truncate", action="store_true", help="cut texts longer than the context")
    fit.add_argument(
        "--chunk", action="store_true", help="embed long texts in windows and average them"
    )

    rerank = commands.add_parser(
        "rerank",
        help="score documents against a query with a reranker (llama-server /v1/rerank JSON)",
        description="Rerank documents for a query; prints llama-server's /v1/rerank response.",
        allow_abbrev=False,
    )
    rerank.add_argument("query", metavar="QUERY")
    rerank.add_argument("documents", nargs="*", metavar="DOC", help="documents to rank")
    rerank.add_argument(
        "-f",
        "--file",
        dest="files",
        action="append",
        metavar="FILE",
        help="a file of documents, one per line (or split by --separator); '-' reads stdin",
    )
    rerank.add_argument(
        "--separator",
        default="\n",
        metavar="SEP",
        help="separator between documents in a file (default: a newline)",
    )
    rerank.add_argument("--top-n", type=int, metavar="K", help="keep the K best documents")
    rerank.add_argument("--truncate", action="store_true", help="cut pairs longer than the context")
    _add_model_options(rerank, model_required=True)

    info = commands.add_parser(
        "info",
        help="what a model is and how it was loaded",
        description="Load a model and print its facts.",
        allow_abbrev=False,
    )
    _add_model_options(info)
    info.add_argument("--json", action="store_true", help="print the facts as a JSON object")
    return parser


# --------------------------------------------------------------------------------------------
# Entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``embed-nb`` with ``argv`` (default: ``sys.argv[1:]``) and return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse's --help and usage errors; a status is more testable
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    commands: dict[str, Callable[[argparse.Namespace], None]] = {
        "embed": _embed_command,
        "rerank": _rerank_command,
        "info": _info_command,
    }
    try:
        commands[args.command](args)
        sys.stdout.flush()
    except InputTooLongError as error:
        # The engine's message names its Python arguments; say it in flags here.
        return _fail(
            f"input {error.index} has {error.n_tokens} tokens, more than the limit of "
            f"{error.limit}; pass --truncate to cut it"
            + (" or --chunk to embed it in windows" if args.command == "embed" else "")
            + ", or a larger -c/--ctx-size if the model allows it",
            EXIT_USAGE,
        )
    except (_UsageError, InvalidInputError, ModelNotFoundError) as error:
        return _fail(str(error), EXIT_USAGE)
    except EmbedNbError as error:
        return _fail(str(error), EXIT_FAILURE)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: stop quietly.
        _drop_stdout()
        return EXIT_FAILURE
    except OSError as error:
        # Mostly stdout itself failing (a full disk, /dev/full); say so in one line.
        _drop_stdout()
        return _fail(f"cannot write the output: {describe(error, writing=True)}", EXIT_FAILURE)
    except Exception as error:  # a bug: one line, and the way to see the whole story
        if os.environ.get("EMBED_NB_DEBUG"):
            raise
        return _fail(
            f"unexpected {type(error).__name__}: {error} (set EMBED_NB_DEBUG=1 for the "
            "traceback, and please report it)",
            EXIT_FAILURE,
        )
    return 0


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so Python's exit-time flush of what is still buffered cannot
    fail again (on a closed pipe or a full disk) and print a traceback after our message."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test's capture): nothing to protect
        pass


def _fail(message: str, status: int) -> int:
    print(f"{PROG}: error: {one_line(message)}", file=sys.stderr)
    return status


def _load(args: argparse.Namespace, **extra: Any) -> Model:
    """Load the model the flags name; only options actually given reach the engine."""
    from . import load_model
    from .loading import is_remote_source

    local: dict[str, Any] = {}
    if args.ctx_size:  # 0, like llama.cpp's -c 0, means the model's training context
        local["n_ctx"] = args.ctx_size
    if args.threads is not None and args.threads > 0:  # -1 is llama.cpp's "default"
        local["n_threads"] = args.threads
    if args.n_gpu_layers is not None:
        local["n_gpu_layers"] = args.n_gpu_layers
    if args.flash_attn is not None:
        local["flash_attn"] = args.flash_attn
    if local and is_remote_source(args.model):
        raise _UsageError(
            "-c, -t, -ngl and -fa set up a local model; a server URL takes none of them"
        )
    return load_model(args.model, **extra, **local)


def _write(text: str) -> None:
    sys.stdout.write(text)


# --------------------------------------------------------------------------------------------
# Reading texts


#: The most bytes one -f file (or stdin) may hold; more is refused, not read (``/dev/zero``).
MAX_INPUT_BYTES = 64 * 1024**2


def _read_text(path: str) -> str:
    """A file's text with one trailing newline dropped (llama.cpp's -f does the same).

    At most :data:`MAX_INPUT_BYTES` are read; a larger file (or an endless one) is refused.
    """
    try:
        if path == "-":
            # Bytes when there are any, so stdin decodes as UTF-8 whatever the locale says.
            stdin = getattr(sys.stdin, "buffer", None)
            if stdin is None:
                text = sys.stdin.read(MAX_INPUT_BYTES + 1)
                if len(text) > MAX_INPUT_BYTES:
                    raise _UsageError(f"stdin holds more than {MAX_INPUT_BYTES:,} characters")
            else:
                text = read_capped(stdin, MAX_INPUT_BYTES).decode("utf-8")
        else:
            text = read_capped(path, MAX_INPUT_BYTES).decode("utf-8")
    except FileAccessError as error:
        raise _UsageError(str(error)) from None
    except UnicodeDecodeError as error:
        where = "stdin" if path == "-" else path
        raise _UsageError(
            f"{where} is not UTF-8 text (byte {error.start} cannot be decoded)"
        ) from None
    return text.removesuffix("\n")


def _split(text: str, separator: str) -> list[str]:
    """Split on every separator, keeping empty parts, as llama-embedding's split_lines does."""
    if not separator:
        raise _UsageError("the separator must not be empty")
    return text.split(separator)


def _gather_texts(inputs: list[tuple[str, str]] | None, separator: str) -> list[str]:
    if not inputs:
        raise _UsageError("no text to embed: give -p TEXT or -f FILE (-f - reads stdin)")
    texts: list[str] = []
    for kind, value in inputs:
        texts.extend(_split(_read_text(value) if kind == "file" else value, separator))
    return texts


# --------------------------------------------------------------------------------------------
# embed


@dataclass(frozen=True)
class _Printed:
    """What llama-embedding prints: one row per embedding (per token with pooling none)."""

    rows: np.ndarray  # float32 (n_embeddings, n_embd), normalised as asked
    prompts: list[str]
    pooling: str
    normalize: int
    labels: list[str]  # a reranker's output labels; empty otherwise


def _embed_command(args: argparse.Namespace) -> None:
    from .engine.normalize import check_normalize

    try:  # fail before the (slow) model load
        mode = check_normalize(2 if args.embd_normalize is None else args.embd_normalize)
    except InvalidInputError as error:
        raise _UsageError(str(error).replace("normalize=", "--embd-normalize ", 1)) from None
    if not args.cls_separator:
        raise _UsageError("--cls-separator must not be empty")
    texts = _gather_texts(args.inputs, args.embd_separator)
    if args.output is not None:
        _check_output(args.output)
    pooling = {"pooling": args.pooling} if args.pooling else {}
    with _load(args, **pooling) as model:
        if model.is_reranker and args.embd_normalize is None:
            # Deliberately unlike llama-embedding: it L2-normalises a lone score to +-1 (or 0),
            # which says nothing; raw scores are what its own CI asks for (-1).
            mode = -1
        printed = _embed_rows(model, texts, mode, args)
    if args.output is not None:
        # Atomic: a failed write (full disk, ulimit -f) leaves an older file whole.
        with atomic_write(args.output) as handle:
            # Through Python's own write: numpy's tofile() on a file object ignores a short
            # write (seen with ulimit -f), and would leave a truncated file without an error.
            handle.write(_npy_bytes(printed.rows))
        n, d = printed.rows.shape
        print(f"{PROG}: saved {n} x {d} float32 embeddings to {args.output}", file=sys.stderr)
    fmt = args.embd_output_format
    if fmt is None:
        fmt = None if args.output is not None else ""
    if fmt is not None:
        _write(format_output(printed, fmt))


def _npy_bytes(rows: np.ndarray) -> bytes:
    """The ``.npy`` file of ``rows``, as bytes."""
    buffer = io.BytesIO()
    np.save(buffer, rows)
    return buffer.getvalue()


def _check_output(path: str) -> None:
    """Refuse an output path that cannot work before the (slow) model load."""
    if not path.endswith(".npy"):
        raise _UsageError(f"-o {path}: the output file must end in .npy")
    if os.path.isdir(path):
        raise _UsageError(f"-o {path}: that is a directory; give a file name ending in .npy")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise _UsageError(f"-o {path}: the directory {directory} does not exist; create it first")


def _embed_rows(model: Model, texts: list[str], mode: int, args: argparse.Namespace) -> _Printed:
    """Run the API on the texts and lay out the rows llama-embedding would print."""
    if model.is_reranker and any(args.cls_separator in t for t in texts):
        rows = _pair_scores(model, texts, mode, args)
    else:
        result = model.embed(texts, normalize=mode, truncate=args.truncate, chunk=args.chunk)
        if result.token_vectors is not None:
            # llama-embedding normalises every token vector too (the API leaves them raw, as
            # llama-server does), so apply the engine's own normalisation here.
            from .engine.normalize import normalize

            rows = normalize(np.concatenate(result.token_vectors), mode)
        else:
            rows = np.asarray(result, dtype=np.float32).reshape(len(texts), -1)
    labels = []
    if model.is_reranker:
        known = model.info.classifier_labels
        labels = known if len(known) == rows.shape[1] else [str(i) for i in range(rows.shape[1])]
    return _Printed(rows, texts, model.pooling, mode, labels)


def _pair_scores(model: Model, texts: list[str], mode: int, args: argparse.Namespace) -> np.ndarray:
    """Score ``query<SEP>document`` prompts with ``model.rerank``, one call per distinct query."""
    from .engine.normalize import normalize

    by_query: dict[str, list[tuple[int, str]]] = {}
    for i, text in enumerate(texts):
        parts = text.split(args.cls_separator)
        if len(parts) != 2:
            raise _UsageError(
                f"text {i} must be one query and one document joined by the --cls-separator "
                f"{args.cls_separator!r}; it has {len(parts)} parts"
            )
        by_query.setdefault(parts[0], []).append((i, parts[1]))
    scores = np.zeros((len(texts), 1), dtype=np.float32)
    for query, items in by_query.items():
        result = model.rerank(query, [doc for _, doc in items], truncate=args.truncate)
        for hit in result.hits:
            scores[items[hit.index][0], 0] = hit.score
    return normalize(scores, mode)  # llama-embedding normalises scores like any embedding


# --------------------------------------------------------------------------------------------
# llama-embedding's output formats (embedding.cpp, main(): the `params.embd_out` branches)


def format_output(printed: _Printed, fmt: str) -> str:
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


def _format_summary(p: _Printed) -> str:
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


def _format_json(p: _Printed, fmt: str) -> str:
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


def _format_raw(p: _Printed) -> str:
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


# --------------------------------------------------------------------------------------------
# rerank and info


def _rerank_command(args: argparse.Namespace) -> None:
    documents = list(args.documents)
    for path in args.files or []:
        documents.extend(_split(_read_text(path), args.separator))
    if not documents:
        raise _UsageError("no documents to rank: give them after the query or with -f FILE")
    if args.top_n is not None and args.top_n < 0:
        raise _UsageError(f"--top-n must be 0 or more, not {args.top_n}")
    from .api import rerank

    with _load(args) as model:
        # The API's rerank: a reranker's own scores, or cosine ranking for an embedding model.
        result = rerank(
            args.query,
            documents,
            top_n=args.top_n,
            model=model,
            truncate=args.truncate,
            cache=False,
        )
    _write(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")


def _info_command(args: argparse.Namespace) -> None:
    with _load(args) as model:
        info = model.info
    if args.json:
        _write(json.dumps(info.as_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        _write(repr(info) + "\n")


if __name__ == "__main__":
    sys.exit(main())
