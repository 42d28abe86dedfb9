"""The ``embed-nb`` argument parser; the load flags come from :mod:`embed_nb.flags`."""

from __future__ import annotations

import argparse
from typing import NoReturn

from ..display import one_line
from ..errors import EmbedNbError
from ..flags import QUANTIZE_PRECISIONS, add_flags
from ..models import DEFAULT_MODEL

PROG = "embed-nb"
OUTPUT_FORMATS = ("", "array", "json", "json+", "raw")
#: The load options every command takes (``embed`` adds ``pooling``), by flags.FLAGS name.
LOAD_OPTIONS: tuple[str, ...] = ("n_ctx", "n_threads", "n_gpu_layers", "flash_attn")
LOAD_OPTIONS += ("n_ubatch", "batch_tokens", "n_contexts", "upcast", "precision", "mmproj")
#: The load options a server URL takes too (the rest set up a local model).
PROMPT_OPTIONS: tuple[str, ...] = ("query_prompt", "document_prompt")
LOAD_OPTIONS += PROMPT_OPTIONS

# Exit codes: 2 for something typed wrong (as argparse does), 1 when the work itself failed.
EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


class _UsageError(EmbedNbError):
    """A CLI-only mistake found before any model is loaded (an unreadable input file, no text)."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a mistake as one line (no usage block): ``embed-nb: error: ...``."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix(PROG).strip()
        where = f" (see {PROG} {command} --help)" if command else f" (see {PROG} --help)"
        self.exit(EXIT_USAGE, f"{PROG}: error: {one_line(message)}{where}\n")


def _add_model_options(parser: argparse.ArgumentParser, *, model_required: bool = False) -> None:
    from ..settings import SETTINGS  # the default model, as every front end reads it

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
    add_flags(group, LOAD_OPTIONS)


def _add_fit_options(parser: argparse.ArgumentParser) -> None:
    fit = parser.add_mutually_exclusive_group()
    fit.add_argument("--truncate", action="store_true", help="cut texts longer than the context")
    fit.add_argument(
        "--chunk", action="store_true", help="embed long texts in windows and average them"
    )


def _add_cluster_option(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--cluster",
        required=required,
        metavar="ADDRESS",
        help="the Dask scheduler to run on, such as tcp://host:8786 (needs the dask extra; "
        "every worker must reach the model at the same path or URL)",
    )


def add_documents(parser: argparse.ArgumentParser, what: str) -> None:
    """The documents of ``rerank`` and ``search``: after the query, and from ``-f FILE``s split
    on ``--separator`` (see :func:`embed_nb.cli._texts.gather_documents`)."""
    parser.add_argument("documents", nargs="*", metavar="DOC", help=what)
    parser.add_argument(
        "-f",
        "--file",
        dest="files",
        action="append",
        metavar="FILE",
        help=f"a file of {what}, one per line (or split by --separator); '-' reads stdin",
    )
    parser.add_argument(
        "--separator",
        default="\n",
        metavar="SEP",
        help="separator between documents in a file (default: a newline)",
    )


def add_text_inputs(parser: argparse.ArgumentParser, what: str) -> None:
    """llama-embedding's -p / -f / --embd-separator: texts given on the line or in files."""
    # -p and -f share one list so that texts keep the order they were given in.
    parser.add_argument(
        "-p",
        "--prompt",
        dest="inputs",
        action="append",
        type=lambda text: ("text", text),
        metavar="TEXT",
        help=f"{what}, split into several by --embd-separator; may be repeated",
    )
    parser.add_argument(
        "-f",
        "--file",
        dest="inputs",
        action="append",
        type=lambda path: ("file", path),
        metavar="FILE",
        help="a file of texts, one per line (or split by --embd-separator); '-' reads stdin",
    )
    parser.add_argument(
        "--embd-separator",
        default="\n",
        metavar="SEP",
        help="separator between texts in a prompt or file (default: a newline)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``embed-nb`` argument parser with its ``embed``, ``rerank``, ``parquet`` and
    ``info`` commands."""
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
    add_text_inputs(embed, "text to embed")
    embed.add_argument(
        "--image",
        dest="inputs",
        action="append",
        type=lambda pattern: ("media", pattern),
        metavar="PATH_OR_GLOB",
        help="image (or audio) files to embed: a file, a glob or a folder (needs --mmproj); "
        "may be repeated, and mixed with -p and -f",
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
    add_flags(embed, ["pooling"])
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
    embed.add_argument(
        "--quantize",
        choices=QUANTIZE_PRECISIONS,
        metavar="P",
        help="int8, uint8, binary or ubinary: print (and save with -o) the quantised vectors, "
        "sentence-transformers' quantize_embeddings; int8/uint8 also save FILE.ranges.npy",
    )
    embed.add_argument(
        "--calibration",
        metavar="FILE.npy",
        help="with --quantize int8/uint8: float vectors (say, a corpus saved with -o) whose "
        "per-dimension min and max set the buckets",
    )
    _add_fit_options(embed)
    # --embd-prompt, not --prompt: -p/--prompt is llama-embedding's text to embed.
    embed.add_argument(
        "--embd-prompt",
        metavar="P",
        help="put before each text: query or document (the model's prompt) or the text itself",
    )
    embed.add_argument(
        "--dim", type=int, metavar="N", help="keep the first N components, normalised again"
    )
    _add_cluster_option(embed, required=False)

    rerank = commands.add_parser(
        "rerank",
        help="score documents against a query with a reranker (llama-server /v1/rerank JSON)",
        description="Rerank documents for a query; prints llama-server's /v1/rerank response.",
        allow_abbrev=False,
    )
    rerank.add_argument("query", metavar="QUERY")
    add_documents(rerank, "documents to rank")
    rerank.add_argument("--top-n", type=int, metavar="K", help="keep the K best documents")
    rerank.add_argument("--truncate", action="store_true", help="cut pairs longer than the context")
    rerank.add_argument(
        "--instruction",
        metavar="TEXT",
        help="replace an instruction-tuned reranker's default instruction (Qwen3-Reranker)",
    )
    _add_model_options(rerank, model_required=True)

    parquet = commands.add_parser(
        "parquet",
        help="embed a parquet corpus on a Dask cluster into parquet files (the dask extra)",
        description="Embed the text column of parquet files on a Dask cluster, part by part, "
        "into DEST: one output part per input part under fixed names, the vectors in a "
        "fixed_size_list<float32> column beside the id column. A run again fills in only the "
        "parts DEST lacks. Workers load the model from the same path (or URL) as here.",
        allow_abbrev=False,
    )
    parquet.add_argument("source", metavar="SOURCE", help="a parquet file, a folder or a glob")
    parquet.add_argument("dest", metavar="DEST", help="the folder to write the parts to")
    parquet.add_argument(
        "--text-column", default="text", metavar="C", help="the text column (default: text)"
    )
    parquet.add_argument(
        "--id-column", metavar="C", help="a column to copy beside the vectors (say, an id)"
    )
    _add_cluster_option(parquet, required=True)
    parquet.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="embed every part again, also those DEST already has",
    )
    parquet.add_argument(
        "--embd-normalize",
        type=int,
        default=None,
        metavar="N",
        help="-1 none, 0 max-abs int16 range, 1 L1, 2 L2 (the default), >2 p-norm",
    )
    _add_fit_options(parquet)
    parquet.add_argument("--json", action="store_true", help="print the summary as JSON")
    _add_model_options(parquet)

    info = commands.add_parser(
        "info",
        help="what a model is and how it was loaded",
        description="Load a model and print its facts.",
        allow_abbrev=False,
    )
    _add_model_options(info)
    info.add_argument("--json", action="store_true", help="print the facts as a JSON object")

    from ._dedup import add_dedup_commands  # late: it imports this module

    add_dedup_commands(commands)

    from ._doctor import add_doctor_command  # late: it imports this module

    add_doctor_command(commands)

    from ._search import add_search_command  # late: it imports this module

    add_search_command(commands)
    return parser
