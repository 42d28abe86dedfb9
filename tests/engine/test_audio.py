"""Audio through a projector (mtmd), end to end, on the tiny llama and Ultravox-style projector.

The projector (tests/tiny_audio.py) has random weights, so these checks are mechanical: a clip
goes through llama.cpp's log-mel spectrogram, Whisper encoder and projector into the decoder
and is pooled as text is; the same samples give the same vector by every route (array, WAV
file, 44.1 kHz stereo resampled here, a real ``llama-server --mmproj``), and bad clips are
refused with one line while the model keeps working.
"""

from __future__ import annotations

import base64
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import embed_nb
from embed_nb import InputTooLongError, InvalidInputError
from embed_nb.engine import LocalModel
from embed_nb.media import Audio, Image, decode_media
from tests.remote import llama_servers as servers
from tests.tiny_audio import TOKENS_PER_WINDOW, write_tiny_audio_mmproj

# As in tests/remote/test_remote_images.py: f32 KV, no flash attention, one slot, the context
# and batch the kernel's tiny llama has.
EXACT = ["-c", "128", "-b", "128", "-ub", "128", "-ctk", "f32", "-ctv", "f32", "-np", "1"]


def _tone(
    seconds: float, rate: int, hz: float = 440.0, channels: int = 1, noise: float = 0.02
) -> np.ndarray:
    """A tone with a little seeded noise, as float32 ``(n,)`` or ``(n, channels)``."""
    t = np.arange(round(seconds * rate)) / rate
    x = 0.4 * np.sin(2 * np.pi * hz * t) + noise * np.random.default_rng(5).normal(size=t.size)
    x = x.astype(np.float32)
    return np.stack([x, 0.5 * x][:channels], axis=1) if channels > 1 else x


def _pcm16(samples: np.ndarray) -> np.ndarray:
    return np.round(np.clip(samples, -1, 1) * 32767).astype(np.int16)


def _write_wav(path: Path, pcm: np.ndarray, rate: int) -> Path:
    frames = pcm.reshape(len(pcm), -1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(frames.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def files(
    vision_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tiny-audio")
    return {
        "llama": vision_files["mean"],
        "audio": write_tiny_audio_mmproj(folder / "audio-mmproj.gguf"),
        "vision": vision_files["mmproj"],
    }


@pytest.fixture(scope="module")
def model(files: dict[str, Path]) -> Iterator[LocalModel]:
    loaded = embed_nb.load_model(files["llama"], mmproj=files["audio"])
    assert isinstance(loaded, LocalModel)
    yield loaded
    loaded.close()


def _vector(model: Any, item: Any) -> np.ndarray:
    vectors = model.embed(item).vectors
    assert vectors is not None
    return np.asarray(vectors)


def test_a_clip_embeds_end_to_end(model: LocalModel) -> None:
    assert model.info.modalities == ("text", "audio")
    clip = _tone(1.0, 16000)
    out = model.embed(Audio(clip, sample_rate=16000))
    vector = np.asarray(out.vectors)
    assert vector.shape == (model.n_embd,)
    assert np.isfinite(vector).all() and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    # One 30 s window of audio tokens, then the text (a newline when there is no caption).
    assert out.token_counts is not None and out.token_counts[0] > TOKENS_PER_WINDOW
    # The vector depends on the sound and on the caption.
    other = _vector(model, Audio(_tone(1.0, 16000, hz=2000.0), sample_rate=16000))
    captioned = _vector(model, Audio(clip, sample_rate=16000, text=" a beep"))
    assert float(np.abs(vector - other).max()) > 1e-2
    assert float(np.abs(vector - captioned).max()) > 1e-2
    # A clip past 30 s takes a second window, in a batch beside a text and the short clip.
    both = model.embed(
        ["a text", Audio(_tone(31.0, 16000), sample_rate=16000), Audio(clip, sample_rate=16000)]
    )
    assert both.token_counts is not None
    assert both.token_counts[1] == out.token_counts[0] + TOKENS_PER_WINDOW
    assert np.array_equal(np.asarray(both.vectors)[2], vector)


def test_a_wav_file_and_the_same_samples_as_an_array_agree(
    model: LocalModel, tmp_path: Path
) -> None:
    pcm = _pcm16(_tone(0.8, 16000))
    path = _write_wav(tmp_path / "mono.wav", pcm, 16000)
    from_file = _vector(model, Audio(path, text=" a tone"))
    from_array = _vector(model, Audio(pcm, sample_rate=16000, text=" a tone"))
    from_bytes = _vector(model, Audio(path.read_bytes(), text=" a tone"))
    assert np.array_equal(from_file, from_array)
    assert np.array_equal(from_file, from_bytes)


def test_a_stereo_wav_at_44100_hz_is_resampled_to_the_projectors_rate(
    model: LocalModel, tmp_path: Path
) -> None:
    stereo = _pcm16(_tone(1.5, 44100, channels=2, noise=0.0))
    path = _write_wav(tmp_path / "stereo.wav", stereo, 44100)
    from_file = _vector(model, Audio(path, text=" a chord"))
    assert np.array_equal(
        from_file, _vector(model, Audio(stereo, sample_rate=44100, text=" a chord"))
    )
    # The same tone made at 16 kHz sounds the same, so it embeds (almost) the same; the
    # 44.1 kHz samples taken as 16 kHz ones play 2.76 times slower and lower, and do not.
    native = _vector(
        model, Audio(0.75 * _tone(1.5, 16000, noise=0.0), sample_rate=16000, text=" a chord")
    )
    wrong = _vector(model, Audio(stereo, sample_rate=16000, text=" a chord"))
    close, far = float(native @ from_file), float(wrong @ from_file)
    assert close > 0.999 and close - far > 10 * (1 - close), (close, far)


def test_media_of_the_wrong_kind_is_refused_and_the_model_keeps_working(
    model: LocalModel, files: dict[str, Path]
) -> None:
    clip = Audio(_tone(0.5, 16000), sample_rate=16000)
    want = _vector(model, ["a text", clip])
    pixels = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    with pytest.raises(InvalidInputError, match="takes audio only") as error:
        model.embed(["a text", Image(pixels)])
    assert "\n" not in str(error.value)
    assert np.array_equal(_vector(model, ["a text", clip]), want)

    vision = embed_nb.load_model(files["llama"], mmproj=files["vision"])
    try:
        assert vision.info.modalities == ("text", "image")
        with pytest.raises(InvalidInputError, match="takes images only") as error:
            vision.embed([clip])
        assert "\n" not in str(error.value)
        assert np.isfinite(_vector(vision, Image(pixels))).all()
    finally:
        vision.close()


def test_clips_that_would_abort_llama_cpp_are_refused(model: LocalModel) -> None:
    """mtmd aborts the process on a clip of one sample (GGML_ASSERT in mtmd_tokenize): the
    projector refuses anything under 1 ms first. Too many windows for the context is the usual
    too-long error. Either way the model keeps working."""
    want = _vector(model, "a text")
    for samples, rate in (([0.3], 16000), ([0.3], 44100), ([0.1, 0.2], 16000), ([0.1] * 15, 16000)):
        with pytest.raises(InvalidInputError, match="at least 1 ms") as error:
            model.embed(Audio(np.asarray(samples, np.float32), sample_rate=rate))
        assert "\n" not in str(error.value)
    assert np.isfinite(_vector(model, Audio(np.full(16, 0.1, np.float32), sample_rate=16000))).all()
    with pytest.raises(InputTooLongError) as too_long:  # five windows: 150 tokens
        model.embed(Audio(_tone(120.0, 16000), sample_rate=16000))
    assert "\n" not in str(too_long.value)
    assert np.array_equal(_vector(model, "a text"), want)


# --- a real llama-server --mmproj ---------------------------------------------------------


@pytest.fixture(scope="module")
def audio_server(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    binary = servers.require_binary("llama-server")
    args = ["--embeddings", "--pooling", "mean", "-fa", "off", "-t", "2", "-tb", "2", *EXACT]
    args += ["--mmproj", str(files["audio"])]
    log = tmp_path_factory.mktemp("llama-server-audio") / "server.log"
    server = servers.LlamaServer(binary, files["llama"], args, log).start()
    try:
        yield server
    finally:
        server.stop()


def test_the_server_gives_the_kernels_vector(audio_server: Any, model: LocalModel) -> None:
    """llama-server decodes the WAV itself (miniaudio, to float by / 32768) and would resample
    it with its own filter, so it gets a 16 kHz mono 16-bit WAV and the kernel the same file:
    both see the same samples."""
    wav = decode_media(Audio(_tone(1.2, 16000), sample_rate=16000)).wav_bytes()
    parts = [
        {
            "type": "input_audio",
            "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"},
        },
        {"type": "text", "text": " a tone"},  # a prompt ending with the clip aborts the server
    ]
    status, body = audio_server.post("/v1/embeddings", {"input": [{"content": parts}]})
    assert status == 200, body
    got = np.asarray(body["data"][0]["embedding"], dtype=np.float32)
    want = _vector(model, Audio(wav, text=" a tone"))
    diff = float(np.abs(got - want).max())
    assert diff <= 1e-4, diff


def test_a_remote_model_gives_the_kernels_vectors(audio_server: Any, model: LocalModel) -> None:
    from embed_nb.engine.remote import RemoteModel

    def inputs() -> list[Any]:
        # 16-bit samples: RemoteModel sends a 16-bit WAV, so both sides see the same sound.
        pcm = _pcm16(_tone(0.7, 16000, hz=300.0))
        return [Audio(pcm, sample_rate=16000, text=" low"), "a text", Audio(pcm, sample_rate=16000)]

    with RemoteModel(audio_server.url) as remote:
        assert remote.info.modalities == ("text", "audio")
        assert remote.media_fingerprint  # probed with a clip: the server takes no image
        got, want = remote.embed(inputs()), model.embed(inputs())
        assert got.vectors is not None and want.vectors is not None
        diff = float(np.abs(np.asarray(got.vectors) - np.asarray(want.vectors)).max())
        assert diff <= 1e-4, diff
        # A one-sample clip aborts llama-server too: it is refused before it is sent.
        with pytest.raises(InvalidInputError, match="at least 1 ms"):
            remote.embed(Audio(np.array([0.3], np.float32), sample_rate=16000))
        with pytest.raises(InvalidInputError, match="takes audio only"):
            remote.embed(Image(np.zeros((8, 8, 3), np.uint8)))
        assert np.array_equal(np.asarray(remote.embed(inputs()).vectors), np.asarray(got.vectors))
