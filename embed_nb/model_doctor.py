"""The model doctor: the silent mistakes that make embeddings quietly worse, said out loud.

:func:`doctor` reads a loaded model's GGUF file (metadata and tensor table, nothing loaded)
and asks the model how it behaves (what its tokenizer adds around a text, the longest text it
has embedded), then lists what looks wrong in plain words, each with its fix::

    embed_nb.doctor()                 # the current model
    embed_nb.doctor("qwen3")          # a loaded model by name

``%embed_model doctor [NAME]`` and ``embed-nb doctor -m MODEL`` show the same
:class:`Diagnosis`. The checks, and why each matters:

- pooling that does not fit the architecture: a decoder (causal attention: each token sees
  only those before it) pooled ``mean`` or ``cls``, or an encoder pooled ``last``;
- a last-token-pooled model whose vocabulary appends no end-of-sequence token, so the pooled
  token is the text's own last word (Qwen3-Embedding GGUFs without ``add_eos``: llama.cpp
  #14234, #14252);
- no query prompt for a family trained with one (see :mod:`embed_nb.prompts`);
- weights at 4.5 bits or fewer (Q4_*, Q3_K, Q2_K, IQ*): vectors drift from the full model's;
- texts longer than the context: they were refused, cut or windowed;
- normalisation off: cosine search still ranks right, but the vectors kept are not unit length.

(The module is not called ``doctor``: importing a submodule of that name would set the
attribute ``embed_nb.doctor`` to the module, hiding the function.)
"""

from __future__ import annotations

import os
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .display import _STYLE, esc, one_line
from .prompts import Family, family_of, model_prompts

if TYPE_CHECKING:
    from .engine.gguf_check import GGUFSummary
    from .engine.protocol import EmbeddingModel, ModelArg

__all__ = ["Diagnosis", "Finding", "doctor"]

Level = Literal["warning", "note"]

# Architectures llama.cpp runs with bidirectional attention (llama-model.cpp sets
# hparams.causal_attn = false for these); every other architecture is a causal decoder
# unless its file says ``{arch}.attention.causal = false``.
ENCODER_ARCHS = frozenset(
    {
        "bert",
        "modern-bert",
        "nomic-bert",
        "nomic-bert-moe",
        "neo-bert",
        "jina-bert-v2",
        "jina-bert-v3",
        "t5encoder",
        "gemma-embedding",
        "eurobert",
    }
)
# Weights at or under this many bits each count as heavily quantised: Q4_0/Q4_K (4.5),
# IQ4_XS (4.25), Q3_K, Q2_K, IQ1-3, TQ. Q5_* (5.5) and Q8_0 (8.5) are fine.
LOW_BITS = 4.5


@dataclass(frozen=True)
class Finding:
    """One problem (``level="warning"``) or remark (``"note"``): what is wrong and its fix.

    ``check`` names the check that found it: ``pooling``, ``eos``, ``prompt``,
    ``quantization``, ``context``, ``normalize`` or ``server`` (what a server hides).
    """

    level: Level
    check: str
    what: str
    fix: str

    def as_dict(self) -> dict[str, str]:
        return {"level": self.level, "check": self.check, "what": self.what, "fix": self.fix}


@dataclass(frozen=True)
class Diagnosis:
    """What :func:`doctor` found about one model; shows as text or as an HTML table."""

    model: str
    facts: dict[str, str] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    @property
    def ok(self) -> bool:
        """True when nothing needs fixing (notes may remain)."""
        return not self.warnings

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "facts": dict(self.facts),
            "findings": [f.as_dict() for f in self.findings],
        }

    def _summary(self) -> str:
        n = len(self.warnings)
        if not self.findings:
            return "no problems found"
        if n == 0:
            return "no problems found (notes below)"
        return f"{n} warning{'s' if n != 1 else ''}"

    def __repr__(self) -> str:
        facts = ", ".join(f"{key} {one_line(value)}" for key, value in self.facts.items())
        lines = [f"Model doctor: {one_line(self.model)} ({facts})", self._summary()]
        for f in self.findings:
            lines.append(f"{f.level}: {one_line(f.what)}")
            lines.append(f"  fix: {one_line(f.fix)}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        facts = ", ".join(f"{esc(key)} {esc(value)}" for key, value in self.facts.items())
        header = f"<b>Model doctor</b>: {esc(self.model)} <span class='note'>({facts})</span>"
        rows = "".join(
            f"<tr><td><b>{esc(f.level)}</b></td><td>{esc(f.what)}</td>"
            f"<td><i>fix:</i> {esc(f.fix)}</td></tr>"
            for f in self.findings
        )
        table = f"<table>{rows}</table>" if rows else ""
        body = f"<div>{esc(self._summary())}</div>{table}"
        return f"{_STYLE}<div class='embed-nb'><div>{header}</div>{body}</div>"


# --- what the file says ------------------------------------------------------------------


@dataclass(frozen=True)
class _FileFacts:
    """What the doctor reads from the GGUF (None where the file does not say)."""

    path: Path
    name: str | None
    causal: bool | None
    add_eos: bool | None
    eos_text: str | None
    matrices: list[tuple[str, int]]  # (ggml type name, number of weights) per matrix


def _file_facts(path: Path) -> _FileFacts:
    from .engine.gguf_check import check_gguf

    summary = check_gguf(path)
    meta = summary.metadata

    def value(key: str) -> Any:
        entry = meta.get(key)
        return None if entry is None else entry.value

    arch = str(value("general.architecture") or "")
    causal = value(f"{arch}.attention.causal")
    add_eos = value("tokenizer.ggml.add_eos_token")
    eos_text = _token_text(meta.get("tokenizer.ggml.tokens"), value("tokenizer.ggml.eos_token_id"))
    name = value("general.name")
    return _FileFacts(
        path=path,
        name=str(name) if name is not None else None,
        causal=bool(causal) if isinstance(causal, bool) else None,
        add_eos=bool(add_eos) if isinstance(add_eos, bool) else None,
        eos_text=eos_text,
        matrices=_matrices(summary),
    )


def _token_text(tokens: Any, token_id: object) -> str | None:
    items = getattr(tokens, "value", None)
    if not isinstance(token_id, int) or not items or not 0 <= token_id < len(items):
        return None
    text: str = items[token_id].decode("utf-8", "replace")
    return text


def _matrices(summary: GGUFSummary) -> list[tuple[str, int]]:
    import math

    from gguf import GGMLQuantizationType

    found = []
    for tensor in summary.tensors:
        if len(tensor.dims) >= 2 and min(tensor.dims) > 1:  # norms and biases stay f32
            try:
                kind = GGMLQuantizationType(tensor.type).name
            except ValueError:
                kind = str(tensor.type)
            found.append((kind, math.prod(tensor.dims)))
    return found


def _bits_per_weight(kind: str) -> float | None:
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType[kind]]
    except KeyError:
        return None
    return size * 8 / block


# --- the checks ----------------------------------------------------------------------------


def _is_decoder(architecture: str, file: _FileFacts | None) -> bool | None:
    """True for causal attention, False for bidirectional, None when unknown (a server)."""
    if file is not None and file.causal is not None:
        return file.causal
    if not architecture or architecture == "unknown":
        return None
    return architecture not in ENCODER_ARCHS


def _check_pooling(model: EmbeddingModel, architecture: str, decoder: bool | None) -> list[Finding]:
    pooling = model.pooling
    if decoder is None or pooling in ("none", "rank"):
        return []
    if decoder and pooling == "mean":
        return [
            Finding(
                "warning",
                "pooling",
                f"{architecture} is a decoder (causal attention: each token sees only the "
                "tokens before it), but it is mean-pooled: the average leans on the start of "
                "the text, and a model trained with last-token pooling (Qwen3-Embedding, "
                "e5-mistral, gte-Qwen2) gives much worse vectors this way",
                "load it with pooling='last' (%embed_model load ... --pooling last, "
                "embed-nb --pooling last), unless its model card says mean",
            )
        ]
    if decoder and pooling == "cls":
        return [
            Finding(
                "warning",
                "pooling",
                f"{architecture} is a decoder (causal attention), but it is cls-pooled: the "
                "first token's vector has seen nothing but itself, so every text gets almost "
                "the same vector",
                "load it with pooling='last' (--pooling last), as decoder embedding models use",
            )
        ]
    if not decoder and pooling == "last":
        return [
            Finding(
                "warning",
                "pooling",
                f"{architecture} is an encoder (bidirectional attention), but it is pooled "
                "'last': the final token (usually [SEP] or </s>) is not what encoder "
                "embedding models are trained to summarise into",
                "load it with pooling='mean' or 'cls', whichever its model card (or "
                "sentence-transformers' 1_Pooling/config.json) names",
            )
        ]
    return []


def _closing_tokens(model: EmbeddingModel) -> int | None:
    """How many tokens the tokenizer appends after a text (None: it cannot be asked)."""
    probe = "hello world"
    try:
        framed = model.tokenize(probe, add_special=True)  # type: ignore[call-arg]
        bare = model.tokenize(probe, add_special=False)  # type: ignore[call-arg]
    except Exception:  # a server without /tokenize: nothing to measure
        return None
    for start in range(len(framed) - len(bare) + 1):
        if framed[start : start + len(bare)] == bare:
            return len(framed) - start - len(bare)
    return None


def _check_eos(model: EmbeddingModel, file: _FileFacts | None) -> list[Finding]:
    if model.pooling != "last":
        return []
    closing = _closing_tokens(model)
    if closing is None or closing > 0:
        return []
    eos = f" ({file.eos_text!r})" if file is not None and file.eos_text else ""
    if file is not None and file.add_eos is False:
        fix = (
            f"turn it on in the file: gguf-set-metadata {shlex.quote(str(file.path))} "
            "tokenizer.ggml.add_eos_token 1 (from the gguf package), or end every text with "
            f"the EOS token's text{eos}"
        )
    else:
        fix = (
            "use a GGUF converted by a current llama.cpp convert_hf_to_gguf.py (it sets "
            f"tokenizer.ggml.add_eos_token), or end every text with the EOS token's text{eos}"
        )
    return [
        Finding(
            "warning",
            "eos",
            "the model is last-token pooled but its tokenizer appends no end-of-sequence "
            "token (add_eos is off), so the pooled vector is that of the text's own last "
            "word, not of the EOS token that last-token embedding models are trained to "
            "summarise into; for Qwen3-Embedding such vectors are close to random",
            fix,
        )
    ]


def _appended_eos(model: EmbeddingModel, file: _FileFacts | None) -> list[Finding]:
    """The model's prompt preset appends the EOS text the tokenizer does not: a note, since
    embed_nb is then right but the file still misleads other tools."""
    suffix = model_prompts(model).suffix
    if model.pooling != "last" or not suffix:
        return []
    where = shlex.quote(str(file.path)) if file is not None else "MODEL.gguf"
    return [
        Finding(
            "note",
            "eos",
            f"the tokenizer appends no end-of-sequence token, so embed_nb's API and magics "
            f"append its text ({suffix!r}) to every text they embed, as the "
            f"{model_prompts(model).family or 'model'} preset asks; model.embed() called "
            "directly, and other tools that read this file, do not",
            f"for them, fix the file: gguf-set-metadata {where} tokenizer.ggml.add_eos_token 1",
        )
    ]


def _check_quantization(file: _FileFacts | None) -> list[Finding]:
    if file is None or not file.matrices:
        return []
    low: Counter[str] = Counter()
    total = sum(n for _, n in file.matrices)
    for kind, n in file.matrices:
        bits = _bits_per_weight(kind)
        if bits is not None and bits <= LOW_BITS:
            low[kind] += n
    if not low:
        return []
    n_low = sum(1 for kind, _ in file.matrices if kind in low)
    kinds = ", ".join(f"{kind} ({_bits_per_weight(kind):.2g} bits per weight)" for kind in low)
    share = 100 * sum(low.values()) / total
    return [
        Finding(
            "warning",
            "quantization",
            f"{n_low} of {len(file.matrices)} weight matrices ({share:.0f}% of the weights) "
            f"are stored in {kinds}: vectors from weights this coarse drift from the full "
            "model's, enough to reorder close search results",
            "use the Q8_0 or F16 file of the same model: embedding models are small, so the "
            "larger file costs little",
        )
    ]


def _check_context(model: EmbeddingModel) -> list[Finding]:
    longest = int(getattr(model, "longest_input", 0) or 0)
    limit = int(model.max_tokens)
    if longest <= limit:
        return []
    info = model.info
    trained = int(getattr(info, "n_ctx_train", 0) or 0)
    if getattr(model, "kind", "local") == "local" and trained > limit:
        fix = (
            f"load it with a larger context, up to its trained {trained} tokens "
            f"(n_ctx={min(trained, max(longest, limit))}, -c on the command line), or split "
            "long documents into passages before embedding"
        )
    else:
        fix = (
            "split long documents into passages before embedding them (chunk=True embeds a "
            "long text as averaged windows; separate passages retrieve better)"
        )
    return [
        Finding(
            "warning",
            "context",
            f"the longest text embedded so far had {longest} tokens, but the model reads at "
            f"most {limit} at once: such texts were refused, cut (truncate=True) or embedded "
            "in windows (chunk=True)",
            fix,
        )
    ]


def _check_normalize() -> list[Finding]:
    from .display import normalize_label
    from .settings import SETTINGS

    mode = SETTINGS.normalize
    if mode == 2:
        return []
    level: Level = "warning" if mode in (-1, 0) else "note"
    return [
        Finding(
            level,
            "normalize",
            f"embeddings are {normalize_label(mode)} (normalize={mode}): cosine search and "
            "similarity still rank correctly, since cosine divides by the lengths, but the "
            "vectors kept and shown are not unit length, so a dot product or Euclidean "
            "distance on them (np.dot, a vector database set to inner product) is not cosine",
            "set normalize=2 (%config EmbedMagics.normalize = 2, or "
            "embed_nb.settings.SETTINGS.normalize = 2)",
        )
    ]


def _check_prompts(model: EmbeddingModel, family: Family | None) -> list[Finding]:
    """A family trained with a query (or document) prompt, used without it."""
    if family is None or not family.needs_prompt:
        return []
    prompts = model_prompts(model)
    missing = [
        kind
        for kind, wanted, used in (
            ("query", family.query_prompt, prompts.query),
            ("document", family.document_prompt, prompts.document),
        )
        if wanted and not used
    ]
    if not missing:
        return []
    options = " and ".join(f"{kind}_prompt" for kind in missing)
    wanted = "; ".join(f"{kind}: {getattr(family, kind + '_prompt')!r}" for kind in missing)
    return [
        Finding(
            "warning",
            "prompt",
            f"this is a {family.name} model, trained with a {' and a '.join(missing)} "
            f"prompt ({wanted}), but none is set: its vectors still come out, only worse "
            "ones, and search quality drops with nothing to say so",
            f"load it without {options}= (the preset is used), or give your own "
            f"{options} (source of the preset: {family.source})",
        )
    ]


def _check_family_pooling(model: EmbeddingModel, family: Family | None) -> list[Finding]:
    """A family trained with one pooling, loaded with another (the file may say wrong)."""
    if family is None or family.pooling is None or model.pooling in (family.pooling, "rank"):
        return []
    return [
        Finding(
            "warning",
            "pooling",
            f"the {family.name} family was trained with {family.pooling} pooling, but this "
            f"model pools {model.pooling!r}",
            f"load it with pooling={family.pooling!r} (--pooling {family.pooling})",
        )
    ]


# --- the doctor ----------------------------------------------------------------------------


def doctor(model: ModelArg = None) -> Diagnosis:
    """Check a model for the silent mistakes that make its embeddings worse.

    Args:
        model: a loaded model, the name of one in the registry, or None for the current
            model (the default model loads if none is).

    Returns:
        A :class:`Diagnosis`: the findings, each a :class:`Finding` with its fix, or
        "no problems found".
    """
    from .engine.protocol import resolve_model

    resolved = resolve_model(model)
    if resolved.closed:
        from .errors import ModelClosedError

        raise ModelClosedError(f"model {resolved.name!r} was closed; load it again")
    info = resolved.info
    architecture = str(getattr(info, "architecture", "") or "unknown")
    file = _local_file_facts(resolved)
    decoder = _is_decoder(architecture, file)
    family = family_of(resolved)
    pooling = _check_pooling(resolved, architecture, decoder)
    eos_appended = _appended_eos(resolved, file)
    findings = [
        *(pooling or _check_family_pooling(resolved, family)),
        *(eos_appended or _check_eos(resolved, file)),
        *_check_prompts(resolved, family),
        *_check_quantization(file),
        *_check_context(resolved),
        *_check_normalize(),
        *_server_note(resolved, file),
    ]
    kind = {True: " decoder", False: " encoder", None: ""}[decoder]
    facts = {
        "architecture": f"{architecture}{kind}",
        "family": family.name if family is not None else "unknown",
        "pooling": resolved.pooling,
        "weights": str(getattr(info, "quantization", "") or "unknown"),
        "context": f"{resolved.max_tokens} tokens",
    }
    longest = int(getattr(resolved, "longest_input", 0) or 0)
    if longest:
        facts["longest text seen"] = f"{longest} tokens"
    return Diagnosis(model=resolved.name, facts=facts, findings=tuple(findings))


def _server_note(model: EmbeddingModel, file: _FileFacts | None) -> list[Finding]:
    """A model on a server: say what could not be checked, rather than pass it as clean."""
    if file is not None or getattr(model, "kind", "local") == "local":
        return []
    return [
        Finding(
            "note",
            "server",
            "the model runs on a server, whose GGUF file is not readable from here: its "
            "architecture, pooling, closing EOS and quantisation were checked only as far as "
            "the server reports them",
            "run the doctor where the file is: embed-nb doctor -m MODEL.gguf (with the "
            "server's --pooling)",
        )
    ]


def _local_file_facts(model: EmbeddingModel) -> _FileFacts | None:
    """The GGUF facts of a local model; None for a server (its file is the server's)."""
    path = getattr(model, "path", None)
    if getattr(model, "kind", "local") != "local" or not isinstance(path, os.PathLike | str):
        return None
    path = Path(path)
    return _file_facts(path) if path.is_file() else None
