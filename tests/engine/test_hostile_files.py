"""Quantised, crafted and damaged GGUF files: each embeds or gets one clear error, never a crash.

Every load here runs in a subprocess, so a crash (SIGSEGV in a ggml kernel, SIGABRT from a
GGML_ASSERT) fails the test instead of killing pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tiny_models
from tiny_models import CRAFTED_CASES, QUANT_TYPES

from embed_nb.engine import probe

# Loads each file given on the command line and prints one JSON line per file.
LOADER = """
import json, sys
import numpy as np
from embed_nb.engine import LocalModel
from embed_nb.errors import EmbedNbError
texts = ["the cat sat on the mat", "a dog eats food", "python code for data science"]
for path in sys.argv[1:]:
    try:
        with LocalModel(path) as model:
            vectors = np.asarray(model.embed(texts))
            row = {"ok": True, "vectors": vectors.tolist(), "type": model.info.quantization}
    except EmbedNbError as error:
        row = {"ok": False, "error": type(error).__name__, "message": str(error)}
    print(json.dumps(row), flush=True)
"""


def load_in_child(
    paths: list[Path], cache: Path, extra_env: dict[str, str] | None = None
) -> list[dict[str, object]]:
    env = {**os.environ, "EMBED_NB_CACHE_DIR": str(cache), **(extra_env or {})}
    run = subprocess.run(
        [sys.executable, "-c", LOADER, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert run.returncode == 0, f"the process died ({run.returncode}): {run.stderr[-1500:]}"
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == len(paths), run.stderr[-1500:]
    return rows


@pytest.fixture(scope="module")
def wide_bert_path(model_dir: Path) -> Path:
    """256 wide: every matrix can be Q4_K (blocks of 256), and AMX takes every one."""
    return tiny_models.write_tiny_bert(model_dir / "bert-256.gguf", n_embd=256, n_ff=512)


@pytest.fixture(scope="module")
def quantised(
    model_dir: Path, bert_mean_path: Path, wide_bert_path: Path, llama_last_path: Path
) -> dict[tuple[str, str], Path]:
    sources = {"bert": bert_mean_path, "bert-256": wide_bert_path, "llama": llama_last_path}
    return {
        (name, qtype): tiny_models.write_quantized(
            source, model_dir / f"{name}-{qtype}.gguf", qtype
        )
        for name, source in sources.items()
        for qtype in QUANT_TYPES
    }


def test_quantised_models_embed_close_to_their_f32_source(
    tmp_path: Path,
    quantised: dict[tuple[str, str], Path],
    bert_mean_path: Path,
    wide_bert_path: Path,
    llama_last_path: Path,
) -> None:
    sources = {"bert": bert_mean_path, "bert-256": wide_bert_path, "llama": llama_last_path}
    keys = list(quantised)
    rows = load_in_child([*sources.values(), *(quantised[k] for k in keys)], tmp_path / "cache")
    reference = dict(zip(sources, rows[: len(sources)], strict=True))
    for (name, qtype), row in zip(keys, rows[len(sources) :], strict=True):
        assert row["ok"], row
        got = np.asarray(row["vectors"])
        want = np.asarray(reference[name]["vectors"])
        cosines = (got * want).sum(axis=1)
        floor = 0.99 if qtype == "Q8_0" else 0.75  # 4-bit weights of random tiny models
        assert cosines.min() > floor, (name, qtype, cosines)
        assert str(row["type"]).startswith(qtype), row["type"]


def test_a_crash_with_extra_buffer_types_falls_back_to_plain_cpu_buffers(
    tmp_path: Path, quantised: dict[tuple[str, str], Path]
) -> None:
    """What AMX does on some CPUs (SIGSEGV in ggml_backend_amx_mul_mat), simulated: the child
    crashes with extra buffer types on; the engine loads with them off and remembers that."""
    cache = tmp_path / "cache"
    paths = [quantised[("bert-256", "Q4_K")], quantised[("bert", "Q8_0")]]
    rows = load_in_child(paths, cache, {probe.SIMULATE_EXTRA_BUFTS_CRASH_ENV: "1"})
    assert all(row["ok"] for row in rows), rows
    [store] = (cache / "verified").iterdir()
    machine = json.loads((store / "extra_bufts.json").read_text())
    assert machine["ok"] is False and "SIGSEGV" in machine["error"]
    verdicts = [json.loads(p.read_text()) for p in store.glob("*.json") if p.stem != "extra_bufts"]
    assert len(verdicts) == 2 and all(v["ok"] and v["extra_bufts"] is False for v in verdicts)


@pytest.fixture(scope="module")
def crafted(model_dir: Path, bert_mean_path: Path) -> dict[str, Path]:
    out = model_dir / "crafted"
    out.mkdir(exist_ok=True)
    return {
        case: tiny_models.write_crafted(bert_mean_path, out / f"{case}.gguf", changes)
        for case, (_, changes) in CRAFTED_CASES.items()
    }


@pytest.fixture(scope="module")
def crafted_results(
    crafted: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, object]]:
    rows = load_in_child(list(crafted.values()), tmp_path_factory.mktemp("cache"))
    return dict(zip(crafted, rows, strict=True))


@pytest.mark.parametrize("case", list(CRAFTED_CASES))
def test_a_crafted_file_gets_one_line_naming_the_key(
    case: str, crafted_results: dict[str, dict[str, object]]
) -> None:
    row = crafted_results[case]
    key = CRAFTED_CASES[case][0]
    assert row["error"] == "ModelLoadError", row
    message = str(row["message"])
    assert "\n" not in message
    assert key in message, message


def test_what_static_checks_miss_crashes_only_the_child(
    tmp_path: Path, bert_mean_path: Path, model_dir: Path
) -> None:
    """A vocabulary too small for BERT's default [CLS] id and an out-of-range bos id: llama.cpp
    aborts on GGML_ASSERT(special_bos_id != LLAMA_TOKEN_NULL) at the first tokenisation, a
    case no static check here knows. The child's first load finds it; the verdict is kept."""
    broken = tiny_models.write_crafted(
        bert_mean_path,
        model_dir / "no-bos.gguf",
        {
            "vocab_size": 90,
            "tokenizer.ggml.bos_token_id": (1000, "uint32"),
            "tokenizer.ggml.cls_token_id": None,
        },
    )
    nan_weights = tiny_models.write_crafted(
        bert_mean_path, model_dir / "nan-weights.gguf", {"nan_tensor": "blk.1.ffn_up.weight"}
    )
    cache = tmp_path / "cache"
    first = load_in_child([broken, nan_weights], cache)
    assert first[0]["error"] == "ModelLoadError"
    assert "crashed" in str(first[0]["message"]) and "GGML_ASSERT" in str(first[0]["message"])
    assert first[1]["error"] == "ModelLoadError" and "NaN" in str(first[1]["message"])
    # The verdicts are on disk: the next process refuses both without a child.
    start = time.perf_counter()
    again = load_in_child([broken, nan_weights], cache, {probe.TIMEOUT_ENV: "0.001"})
    assert [r["message"] for r in again] == [r["message"] for r in first]
    assert time.perf_counter() - start < 60


def test_a_verified_file_loads_without_a_child(
    bert_mean_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from embed_nb.engine import LocalModel

    monkeypatch.setenv("EMBED_NB_CACHE_DIR", str(tmp_path / "cache"))
    probe.forget_memo()
    LocalModel(bert_mean_path).close()  # probes once
    probe.forget_memo()

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("a verified file was probed again")

    monkeypatch.setattr(probe.subprocess, "run", no_child)
    start = time.perf_counter()
    LocalModel(bert_mean_path).close()
    assert time.perf_counter() - start < 5
