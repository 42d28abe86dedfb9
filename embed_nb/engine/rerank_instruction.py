"""A reranker's instruction: found in its ``rerank`` chat template and replaced on request.

llama-server fills a reranker's ``rerank`` template with ``{query}`` and ``{document}`` only
(``format_prompt_rerank`` in tools/server/server-common.cpp, llama.cpp as vendored by
llama-cpp-python 0.3.36); ``/v1/rerank`` takes no instruction. Instruction-tuned rerankers
hold a default instruction in the template itself, so a custom one is substituted there,
before the query and document are filled in.

Where templates hold it:
- Qwen3-Reranker: ``<Instruct>: Given a web search query, retrieve relevant passages that
  answer the query\\n<Query>: {query}...``, written by llama.cpp's converter
  (conversion/qwen.py, ``_find_rerank_config``), as in Qwen's own model card, where the
  instruction sits on the ``<Instruct>:`` line.
"""

from __future__ import annotations

import dataclasses
import re

from ..errors import InvalidInputError
from .rerank import PairFormat

__all__ = ["default_instruction", "with_instruction"]

# The instruction is the rest of the line after the marker (group 2).
_INSTRUCTION_LINES = (re.compile(r"(<Instruct>: ?)([^\n]*)"),)


def _instruction_match(template: str | None) -> re.Match[str] | None:
    if template is None:
        return None
    for pattern in _INSTRUCTION_LINES:
        match = pattern.search(template)
        if match is not None:
            return match
    return None


def default_instruction(template: str | None) -> str | None:
    """The instruction a ``rerank`` template holds, or None when it has no place for one."""
    match = _instruction_match(template)
    return None if match is None else match.group(2)


def with_instruction(fmt: PairFormat, instruction: str | None, model_name: str) -> PairFormat:
    """``fmt`` with ``instruction`` in place of its template's default one (None: unchanged).

    Raises:
        InvalidInputError: the instruction is not a non-empty str, holds ``{query}`` or
            ``{document}``, or the model's template has no place for an instruction.
    """
    if instruction is None:
        return fmt
    if not isinstance(instruction, str):
        raise InvalidInputError(f"instruction must be a str, not {type(instruction).__name__}")
    if not instruction.strip():
        raise InvalidInputError("instruction is empty; pass a task description or leave it out")
    if "{query}" in instruction or "{document}" in instruction:
        raise InvalidInputError(
            "instruction must not contain {query} or {document}: the template fills those in"
        )
    match = _instruction_match(fmt.template)
    if match is None or fmt.template is None:
        where = "has no rerank template" if fmt.template is None else "has a rerank template"
        raise InvalidInputError(
            f"{model_name} {where} without an instruction to replace, so it takes no "
            "instruction; leave instruction out, or use an instruction-tuned reranker "
            "such as Qwen3-Reranker"
        )
    template = fmt.template
    start, end = match.span(2)
    return dataclasses.replace(fmt, template=template[:start] + instruction + template[end:])
