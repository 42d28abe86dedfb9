"""Query and document prompts: the presets of known model families, and what a call uses.

Many retrieval models were trained with an instruction before the query (and sometimes a
marker before the document); used without it they still give vectors, only worse ones, and
nothing says so. A model's prompts come from the user (``load_model(...,
query_prompt=..., document_prompt=...)``) or, when not given, from the preset of its
family, recognised by the GGUF's ``general.name`` / ``general.basename`` /
``general.architecture`` (or the name a server reports). ``query_prompt=""`` turns a preset
off.

A call picks one with ``prompt=``: ``"query"`` or ``"document"`` (the model's prompt of that
kind, empty when it has none) or any other str, the literal text to put before each text.
:func:`family_of` tells the doctor which family a model is and what it needs.

This module imports nothing of the engine: the engine calls it while loading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import InvalidInputError

__all__ = [
    "PROMPT_KINDS",
    "Family",
    "Prompts",
    "checked_prompt_option",
    "family_of",
    "model_prompts",
    "prompt_text",
    "resolve_prompts",
]

#: The keywords ``prompt=`` takes; any other str is the literal text to put before each text.
PROMPT_KINDS = ("query", "document")

#: Words that look like a misspelt keyword rather than a prompt's text.
_NEAR_KEYWORDS = frozenset({"query", "queries", "document", "documents", "doc", "docs", "passage"})
_NEAR_KEYWORDS |= {"passages", "corpus", "search_query", "search_document"}

# The instruction Qwen3-Embedding and the instruct e5 models give for web search retrieval.
_WEB_SEARCH_TASK = "Given a web search query, retrieve relevant passages that answer the query"


@dataclass(frozen=True)
class Family:
    """A model family embed_nb knows: its prompts and what it was trained with.

    Attributes:
        name: the family, such as ``"qwen3-embedding"``.
        query_prompt: the text its queries start with ("" when none).
        document_prompt: the text its documents start with ("" when none).
        pooling: the pooling it was trained with (None: whatever the file says).
        needs_eos: its texts must end in the EOS token (last-token pooling reads it).
        source: where the prompts are documented.
    """

    name: str
    query_prompt: str
    document_prompt: str
    pooling: str | None
    needs_eos: bool
    source: str

    @property
    def needs_prompt(self) -> bool:
        """Whether queries or documents of this family need a prompt to embed well."""
        return bool(self.query_prompt or self.document_prompt)


@dataclass(frozen=True)
class _Rule:
    pattern: str  # searched in each lower-cased name
    family: Family | None  # None: a known name that is no embedding family (a reranker)
    architectures: tuple[str, ...] = ()


_QWEN3 = Family(
    "qwen3-embedding",
    # Qwen/Qwen3-Embedding-0.6B model card, get_detailed_instruct():
    # f"Instruct: {task_description}\nQuery:{query}"; documents carry no instruction. The
    # card pools the last token and appends <|endoftext|> (llama.cpp #14234, #14252).
    f"Instruct: {_WEB_SEARCH_TASK}\nQuery:",
    "",
    "last",
    True,
    "https://huggingface.co/Qwen/Qwen3-Embedding-0.6B",
)
_GEMMA = Family(
    "embeddinggemma",
    # google/embeddinggemma-300m model card, "Prompt instructions": retrieval query and
    # document prompts (sentence-transformers' config_sentence_transformers.json has the same).
    "task: search result | query: ",
    "title: none | text: ",
    "mean",
    False,
    "https://ai.google.dev/gemma/docs/embeddinggemma/model_card",
)
_NOMIC = Family(
    "nomic-embed",
    # nomic-ai/nomic-embed-text-v1.5 model card: "search_query: " and "search_document: ".
    "search_query: ",
    "search_document: ",
    "mean",
    False,
    "https://huggingface.co/nomic-ai/nomic-embed-text-v1.5",
)
_E5_INSTRUCT = Family(
    "e5-instruct",
    # intfloat/multilingual-e5-large-instruct and e5-mistral-7b-instruct model cards:
    # f"Instruct: {task_description}\nQuery: {query}"; documents carry no instruction.
    f"Instruct: {_WEB_SEARCH_TASK}\nQuery: ",
    "",
    None,
    False,
    "https://huggingface.co/intfloat/multilingual-e5-large-instruct",
)
_E5 = Family(
    "e5",
    # intfloat/e5-base-v2 model card: "query: " and "passage: " (also multilingual-e5).
    "query: ",
    "passage: ",
    "mean",
    False,
    "https://huggingface.co/intfloat/e5-base-v2",
)
_BGE_M3 = Family(
    "bge-m3",
    # BAAI/bge-m3 model card: "no need to add instruction to the query".
    "",
    "",
    "cls",
    False,
    "https://huggingface.co/BAAI/bge-m3",
)
_BGE_ZH = Family(
    "bge-zh",
    # BAAI/bge-large-zh-v1.5 model card: the query instruction for retrieval.
    "为这个句子生成表示以用于检索相关文章：",
    "",
    "cls",
    False,
    "https://huggingface.co/BAAI/bge-large-zh-v1.5",
)
_BGE = Family(
    "bge",
    # BAAI/bge-large-en-v1.5 model card: the query instruction for short-query retrieval;
    # passages carry none.
    "Represent this sentence for searching relevant passages: ",
    "",
    "cls",
    False,
    "https://huggingface.co/BAAI/bge-large-en-v1.5",
)

_WORD = r"(?<![a-z0-9]){}(?![a-z0-9])"
# First match wins: the specific names before the general ones.
_RULES = (
    _Rule(r"qwen3[-_ .]?embedding", _QWEN3),
    _Rule(r"embedding[-_ .]?gemma", _GEMMA, ("gemma-embedding",)),
    _Rule(r"nomic[-_ .]?embed", _NOMIC, ("nomic-bert", "nomic-bert-moe")),
    _Rule(_WORD.format("e5") + r".*(instruct|mistral)", _E5_INSTRUCT),
    _Rule(_WORD.format("e5"), _E5),
    _Rule(_WORD.format("bge") + r".*rerank", None),
    _Rule(_WORD.format(r"bge[-_ .]?m3"), _BGE_M3),
    _Rule(_WORD.format("bge") + r".*" + _WORD.format("zh"), _BGE_ZH),
    _Rule(_WORD.format("bge"), _BGE),
)


def _names(model: Any) -> list[str]:
    """The names a model goes by, lower-cased: the GGUF's own first, then the display name."""
    found = [*getattr(model, "gguf_names", ()), getattr(model, "model_id", None)]
    found.append(getattr(model, "name", None))
    return [name.lower() for name in found if isinstance(name, str) and name]


def family_of(model: Any) -> Family | None:
    """The known family of ``model`` (a loaded local or remote model), or None.

    Read from the GGUF's ``general.name`` and ``general.basename`` (a local model's
    ``gguf_names``), ``general.architecture``, the model id a server reports, and the
    display name, in that order. A reranker is no family (its prompts are its template's).
    """
    if getattr(model, "pooling", None) == "rank":
        return None
    names = _names(model)
    architecture = str(getattr(model, "architecture", "") or "").lower()
    for rule in _RULES:
        hit = architecture in rule.architectures or any(re.search(rule.pattern, n) for n in names)
        if hit:
            return rule.family
    return None


@dataclass(frozen=True)
class Prompts:
    """The prompts a model uses.

    Attributes:
        query: put before a query (``prompt="query"``; :func:`~embed_nb.search` does it).
        document: put before a document (``prompt="document"``; search's corpus gets it).
        suffix: put after every text the API embeds: a Qwen3-Embedding file whose tokenizer
            adds no EOS gets the EOS token's text here, which the engine reads as the token.
        family: the preset's family, None when none matched.
    """

    query: str = ""
    document: str = ""
    suffix: str = ""
    family: str | None = None

    def __repr__(self) -> str:
        return f"Prompts(query={self.query!r}, document={self.document!r}, family={self.family})"

    def describe(self) -> str:
        """One line for ``Model.info``: the prompts in use, and where they come from."""
        if not (self.query or self.document or self.suffix):
            return "-"
        parts = [f"query {self.query!r}", f"document {self.document!r}"]
        if self.suffix:
            parts.append(f"then {self.suffix!r} (EOS)")
        return ", ".join(parts) + (f" ({self.family} preset)" if self.family else "")


def checked_prompt_option(name: str, value: object) -> str | None:
    """A ``query_prompt`` / ``document_prompt`` load option: None (the preset) or a str."""
    if value is None or isinstance(value, str):
        return value
    raise InvalidInputError(
        f'{name} must be a str ("" for none) or None for the model\'s preset, '
        f"not {type(value).__name__}"
    )


def resolve_prompts(
    family: Family | None,
    query_prompt: str | None = None,
    document_prompt: str | None = None,
    *,
    eos_text: str = "",
) -> Prompts:
    """The prompts a model uses: the user's where given (``""`` turns a preset off), else the
    family's preset. ``eos_text`` is the EOS token's text when the tokenizer does not add EOS
    itself; a family that needs EOS gets it as the suffix."""
    query = checked_prompt_option("query_prompt", query_prompt)
    document = checked_prompt_option("document_prompt", document_prompt)
    if family is not None:
        query = family.query_prompt if query is None else query
        document = family.document_prompt if document is None else document
    suffix = eos_text if family is not None and family.needs_eos else ""
    return Prompts(query or "", document or "", suffix, None if family is None else family.name)


def model_prompts(model: Any) -> Prompts:
    """The prompts of a loaded model (none for a model that does not say)."""
    prompts = getattr(model, "prompts", None)
    return prompts if isinstance(prompts, Prompts) else Prompts()


def prompt_text(model: Any, prompt: object) -> str:
    """The text ``prompt=`` puts before each text: the model's query or document prompt for
    ``"query"`` / ``"document"`` (empty when it has none), "" for None, else the str itself.

    Raises:
        InvalidInputError: a prompt that is not a str, or a word that looks like a misspelt
            keyword (``"Query"``, ``"documents"``).
    """
    if prompt is None:
        return ""
    if not isinstance(prompt, str):
        raise InvalidInputError(
            f"prompt must be a str: 'query', 'document' or the text to put before each text; "
            f"not {type(prompt).__name__}"
        )
    if prompt in PROMPT_KINDS:
        prompts = model_prompts(model)
        return prompts.query if prompt == "query" else prompts.document
    if prompt.strip().lower() in _NEAR_KEYWORDS:
        raise InvalidInputError(
            f"prompt={prompt!r} looks like a keyword; use 'query' or 'document' (lower case) "
            "for the model's prompt, or give the literal text to prepend, such as 'query: '"
        )
    return prompt
