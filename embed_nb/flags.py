"""The one table of load-option flags, shared by ``%embed_model load`` and ``embed-nb``.

Each flag's long name is its option's name (``n_ctx`` -> ``--n-ctx``, the field of
:class:`~embed_nb.engine.options.LocalOptions` or
:class:`~embed_nb.engine.remote._options.RemoteOptions` it sets); llama.cpp's spellings
(``-c``, ``-ngl``, ``-t``, ``-fa``, ``-ub``) and the spellings older versions took
(``--ctx``, ``--ngl``, ``--threads``...) are aliases. Values read the way llama.cpp reads
them: ``-c 0`` is the model's training context, ``-t -1`` every core, ``-ngl all``/``auto``.

It imports nothing heavy (the magics build their parsers at ``%load_ext``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from .engine.precision import PRECISIONS
from .pooling import POOLINGS

__all__ = [
    "FLAGS",
    "FLASH_ATTN",
    "QUANTIZE_PRECISIONS",
    "Flag",
    "add_flags",
    "add_search_options",
    "describe_flags",
    "given_options",
    "local_only_flags",
]

#: llama.cpp's ``--flash-attn`` values (the engine's ``FLASH_ATTN_TYPES`` keys; a test checks).
FLASH_ATTN = ("auto", "on", "off")

#: ``--quantize`` values (:data:`embed_nb.quantize.PRECISIONS`, which imports numpy; a test
#: keeps them the same).
QUANTIZE_PRECISIONS = ("int8", "uint8", "binary", "ubinary")


def gpu_layers(value: str) -> int | None:
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


def _whole(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {value!r}: give a whole number") from None


def ctx_size(value: str) -> int | None:
    """``-c``: tokens; 0 (llama.cpp's default) is the model's training context."""
    n = _whole(value)
    return None if n == 0 else n


def threads(value: str) -> int | None:
    """``-t``: threads; 0 or less (llama.cpp's -1) is every core this process has."""
    n = _whole(value)
    return None if n <= 0 else n


@dataclass(frozen=True)
class Flag:
    """One load option as a flag: its spellings, how its value reads, where it applies."""

    option: str  # the LocalOptions / RemoteOptions field it sets
    aliases: tuple[str, ...]  # llama.cpp's spelling first, then older ones
    help: str
    parse: Callable[[str], Any] | None = _whole
    metavar: str | None = "N"
    choices: tuple[str, ...] | None = None
    kind: Literal["value", "switch", "negatable"] = "value"
    applies: Literal["local", "remote", "both"] = "local"

    @property
    def long(self) -> str:
        """The spelling derived from the option's name: ``--n-ctx``."""
        return "--" + self.option.replace("_", "-")

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every spelling: llama.cpp's short one first (as ``--help`` shows them)."""
        short = tuple(a for a in self.aliases if not a.startswith("--"))
        rest = tuple(a for a in self.aliases if a.startswith("--") and a != self.long)
        return (*short, self.long, *rest)


FLAGS: dict[str, Flag] = {
    flag.option: flag
    for flag in (
        Flag("name", (), "the name to keep the model under", str, "NAME", applies="both"),
        Flag(
            "pooling",
            (),
            "pooling type (default: the model's own)",
            str,
            None,
            POOLINGS,
            applies="both",
        ),
        Flag(
            "n_ctx",
            ("-c", "--ctx-size", "--ctx"),
            "context size in tokens; 0 = the model's training context (the default)",
            ctx_size,
        ),
        Flag(
            "n_threads", ("-t", "--threads"), "CPU threads; -1 = all cores (the default)", threads
        ),
        Flag(
            "n_gpu_layers",
            ("-ngl", "--gpu-layers", "--ngl"),
            "layers to offload to the GPU: a number, 'all' or 'auto' (the default)",
            gpu_layers,
        ),
        Flag(
            "flash_attn",
            ("-fa",),
            "flash attention (default: auto)",
            str,
            None,
            FLASH_ATTN,
        ),
        Flag("n_ubatch", ("-ub", "--ubatch-size"), "physical batch size in tokens"),
        Flag(
            "batch_tokens",
            (),
            "tokens per decode (default: 256 on a CPU, 2048 on a GPU; at most --n-ubatch)",
        ),
        Flag(
            "n_contexts",
            (),
            "llama.cpp contexts sharing a call (default: one per core on a CPU, one on a GPU)",
        ),
        Flag(
            "upcast",
            (),
            "load an f32 copy of f16/bf16 weights (default: on a CPU); --no-upcast loads the "
            "file as it is",
            None,
            None,
            kind="negatable",
        ),
        Flag(
            "precision",
            (),
            "exact (the default) or fast: bf16 weights on a CPU with bf16 dot products "
            "(about 1.6x faster, cosine >= 0.9998 to exact)",
            str,
            None,
            PRECISIONS,
        ),
        Flag(
            "query_prompt",
            (),
            "text put before queries (prompt 'query', search); default: the model family's "
            "preset; '' for none",
            str,
            "TEXT",
            applies="both",
        ),
        Flag(
            "document_prompt",
            (),
            "text put before documents (prompt 'document', a search's corpus); default: the "
            "model family's preset; '' for none",
            str,
            "TEXT",
            applies="both",
        ),
        Flag(
            "mmproj",
            ("--mmproj",),
            "a multimodal projector GGUF (the model's mmproj-*.gguf), to embed images (and "
            "audio, where it has an audio encoder) beside text",
            str,
            "PATH",
        ),
        Flag(
            "allow_insecure",
            ("--allow-insecure",),
            "send an API key over plain http to a host that is not this machine",
            None,
            None,
            kind="switch",
            applies="remote",
        ),
    )
}


def add_flags(parser: Any, options: Iterable[str]) -> None:
    """Add the flags of ``options`` (names in :data:`FLAGS`) to an argparse parser or group.

    Each stores under its option's name, None when not given.
    """
    for option in options:
        flag = FLAGS[option]
        if flag.kind == "switch":
            parser.add_argument(
                *flag.spellings, dest=option, action="store_const", const=True, help=flag.help
            )
        elif flag.kind == "negatable":
            parser.add_argument(
                flag.long, dest=option, action=argparse.BooleanOptionalAction, help=flag.help
            )
        else:
            parser.add_argument(
                *flag.spellings,
                dest=option,
                type=flag.parse,
                choices=flag.choices,
                metavar=flag.metavar,
                help=flag.help,
            )


def given_options(args: argparse.Namespace, options: Iterable[str]) -> dict[str, Any]:
    """The options among ``options`` that the parsed flags set (None: not given)."""
    return {name: value for name in options if (value := getattr(args, name, None)) is not None}


def describe_flags(options: Iterable[str], indent: str = "") -> str:
    """One line per flag: its spellings and what it does (for a docstring)."""
    lines = []
    for option in options:
        flag = FLAGS[option]
        spellings = (
            (flag.long, "--no-" + flag.long[2:]) if flag.kind == "negatable" else flag.spellings
        )
        value = "" if flag.kind != "value" else " " + (flag.metavar or "|".join(flag.choices or ()))
        lines.append(f"- ``{', '.join(spellings)}{value}``: {flag.help}")
    return ("\n" + indent).join(lines)


def local_only_flags(options: Iterable[str]) -> str:
    """``-c, -t, -ngl and -fa``...: how a message names the local-only flags of ``options``."""
    shown = [FLAGS[o].spellings[0] for o in options if FLAGS[o].applies == "local"]
    return ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else "".join(shown)


def add_search_options(parser: argparse.ArgumentParser, reranker: tuple[str, str]) -> None:
    """What ``%embed_search`` and ``embed-nb search`` add to a search, with the API's names:
    rerank the hits, or search quantised vectors. ``reranker``: ``--rerank``'s metavar and
    help (a loaded model's name in a notebook, a file or URL on the command line)."""
    metavar, help_text = reranker
    parser.add_argument("--rerank", metavar=metavar, help=help_text)
    parser.add_argument(
        "--top-n", type=int, dest="top_n", metavar="N", help="keep the best N after reranking"
    )
    parser.add_argument(
        "--rerank-fallback",
        dest="rerank_fallback",
        choices=["cosine"],
        help="let --rerank name an embedding model: reorder the hits by its cosine",
    )
    parser.add_argument(
        "--quantize",
        choices=QUANTIZE_PRECISIONS,
        help="quantise the corpus first, then rescore the candidates with the float query",
    )
    parser.add_argument(
        "--rescore-multiplier",
        dest="rescore_multiplier",
        type=int,
        metavar="M",
        help="candidates per hit from the quantised vectors (default 4)",
    )
