"""embed_nb.media: images and audio checked and decoded in Python, bad input refused in one line."""

from __future__ import annotations

import io
import os
import resource
import stat
import struct
import time
import warnings
import wave
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from embed_nb import media
from embed_nb.errors import InvalidInputError
from embed_nb.media import (
    Audio,
    Image,
    Media,
    decode_media,
    is_media,
    media_paths,
    thumbnail,
)

PIL = pytest.importorskip("PIL.Image")
sf = pytest.importorskip("soundfile")


def pixels(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def png_file(path: Path, array: np.ndarray) -> Path:
    PIL.fromarray(array).save(path, format="PNG")
    return path


def refused(item: object, *fragments: str, index: int = 0) -> str:
    """The one-line message ``decode_media`` refuses ``item`` with; it holds every fragment."""
    with pytest.raises(InvalidInputError) as caught:
        decode_media(item, index)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(body, zlib.crc32(kind)) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes whose header says width × height RGB: a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def sine(rate: int, seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[spectrum.argmax()])


# --- images: what is accepted ------------------------------------------------------------


def test_the_same_pixels_from_a_png_and_an_array_give_the_same_digest(tmp_path: Path) -> None:
    array = pixels()
    from_file = decode_media(png_file(tmp_path / "cat.png", array))
    from_array = decode_media(array)
    from_bytes = decode_media(Image((tmp_path / "cat.png").read_bytes()))
    from_str_path = decode_media(Image(str(tmp_path / "cat.png")))
    from_pil = decode_media(PIL.fromarray(array))
    assert from_file.kind == "image" and from_file.data.dtype == np.uint8
    assert from_file.data.shape == (48, 64, 3) and from_file.data.flags.c_contiguous
    np.testing.assert_array_equal(from_file.data, array)
    digests = {m.digest for m in (from_file, from_array, from_bytes, from_str_path, from_pil)}
    assert len(digests) == 1
    assert from_file.label == "cat.png" and from_array.label == "image 64×48"
    assert decode_media(pixels(seed=1)).digest != from_array.digest


def test_the_caption_is_in_the_key_text_and_the_label_not_the_digest(tmp_path: Path) -> None:
    path = png_file(tmp_path / "cat.png", pixels())
    plain = decode_media(Path(path))
    captioned = decode_media(Image(path, text="a cat"))
    assert captioned.digest == plain.digest
    assert captioned.caption == "a cat" and plain.caption == ""
    assert captioned.key_text == f"\x00image:{plain.digest}\x00a cat"
    assert plain.key_text != captioned.key_text and plain.key_text.startswith("\x00")
    assert captioned.label == "cat.png — a cat"


def test_decoding_is_idempotent_and_the_pixels_cannot_change_under_it() -> None:
    array = pixels()
    decoded = decode_media(array)
    assert decode_media(decoded) is decoded
    array[:] = 0  # the caller's array is copied, and the copy is read-only
    assert decoded.data.any()
    with pytest.raises(ValueError):
        decoded.data[0, 0, 0] = 1
    assert "label='image 64×48'" in repr(decoded) and "array" not in repr(decoded)


def test_png_bytes_are_a_png_of_exactly_the_decoded_pixels() -> None:
    decoded = decode_media(pixels(7, 5))
    data = decoded.png_bytes()
    with PIL.open(io.BytesIO(data)) as back:
        assert back.format == "PNG" and back.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(back), decoded.data)
    assert decode_media(data).digest == decoded.digest


def test_grey_and_rgba_arrays_become_rgb_over_white() -> None:
    grey = np.array([[0, 128], [200, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(decode_media(grey).data[1, 0], [200, 200, 200])
    np.testing.assert_array_equal(decode_media(grey[:, :, None]).data[0, 1], [128, 128, 128])
    rgba = np.zeros((1, 3, 4), dtype=np.uint8)
    rgba[0, 0] = [255, 0, 0, 255]  # opaque red
    rgba[0, 1] = [0, 0, 0, 0]  # transparent: white
    rgba[0, 2] = [0, 0, 0, 128]  # half-transparent black: mid grey
    np.testing.assert_array_equal(decode_media(rgba).data[0], [[255, 0, 0], [255] * 3, [127] * 3])


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("L", 77, [77, 77, 77]),
        ("LA", (0, 0), [255, 255, 255]),
        ("LA", (0, 255), [0, 0, 0]),
        ("RGBA", (0, 0, 255, 128), [127, 127, 255]),
        ("CMYK", (0, 255, 255, 0), [255, 0, 0]),
        ("1", 1, [255, 255, 255]),
    ],
)
def test_image_modes_become_rgb(tmp_path: Path, mode: str, value: object, expected: list) -> None:
    path = tmp_path / f"{mode}.{'jpg' if mode == 'CMYK' else 'png'}"
    picture = PIL.new(mode, (3, 2), value)  # type: ignore[arg-type]
    picture.save(path, quality=100) if mode == "CMYK" else picture.save(path)
    decoded = decode_media(Path(path))
    assert decoded.data.shape == (2, 3, 3)
    np.testing.assert_allclose(decoded.data[1, 2], expected, atol=2 if mode == "CMYK" else 0)


def test_a_16_bit_png_is_scaled_to_8_bits_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 1000, 32896, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    PIL.fromarray(values).save(path)
    with PIL.open(path) as check:
        assert check.mode.startswith("I")  # really 16-bit on disk
    decoded = decode_media(Path(path))
    np.testing.assert_array_equal(decoded.data[0, :, 0], [0, 4, 128, 255])


def test_float_images_are_scaled() -> None:
    unit = PIL.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    assert unit.mode == "F"
    np.testing.assert_array_equal(decode_media(unit).data[0, :, 0], [0, 128, 255])
    wide = PIL.fromarray(np.array([[-10.0, 0.0, 10.0]], dtype=np.float32))
    np.testing.assert_array_equal(decode_media(wide).data[0, :, 0], [0, 128, 255])


def test_a_palette_png_with_transparency_is_composited_onto_white(tmp_path: Path) -> None:
    picture = PIL.new("P", (2, 1))
    picture.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    picture.putpixel((0, 0), 0)
    picture.putpixel((1, 0), 1)
    path = tmp_path / "palette.png"
    picture.save(path, transparency=0)
    with PIL.open(path) as check:
        assert check.mode == "P" and "transparency" in check.info
    decoded = decode_media(Path(path))
    np.testing.assert_array_equal(decoded.data[0], [[255, 255, 255], [0, 0, 255]])


def test_a_gif_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [PIL.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 255, 0))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    np.testing.assert_array_equal(decode_media(Path(path)).data[0, 0], [255, 0, 0])


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    picture = PIL.new("RGB", (40, 20), (10, 20, 30))
    exif = PIL.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = tmp_path / "phone.jpg"
    picture.save(path, exif=exif)
    assert decode_media(Path(path)).data.shape == (40, 20, 3)


def test_a_pil_image_is_read_but_not_changed(tmp_path: Path) -> None:
    picture = PIL.new("RGBA", (5, 4), (0, 0, 0, 0))
    decoded = decode_media(Image(picture, text="x"))
    assert picture.mode == "RGBA" and picture.getpixel((0, 0)) == (0, 0, 0, 0)
    assert (decoded.data == 255).all() and decoded.label == "image 5×4 — x"
    with PIL.open(png_file(tmp_path / "named.png", pixels())) as opened:
        assert decode_media(opened).label == "named.png"


# --- images: what is refused -------------------------------------------------------------


def test_missing_directory_empty_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    refused(tmp_path / "nope.png", "input 4", "nope.png", "no such file", index=4)
    refused(Image(str(tmp_path)), "is a directory", "--image DIR")
    (tmp_path / "empty.png").write_bytes(b"")
    refused(tmp_path / "empty.png", "empty.png", "is empty (0 bytes)")
    refused(b"", "is empty")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    refused(fifo, "not a regular file")  # and does not block on opening it
    locked = png_file(tmp_path / "locked.png", pixels())
    locked.chmod(0)
    try:
        if os.geteuid() != 0:  # root reads anything
            refused(locked, "locked.png", "cannot be read", "Permission denied")
    finally:
        locked.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_files_over_the_size_cap_are_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = png_file(tmp_path / "big.png", pixels())
    monkeypatch.setattr(media._limits, "MAX_FILE_BYTES", 100)
    refused(path, "big.png", "MiB", "make it smaller")
    refused(path.read_bytes(), "input 0 is", "make it smaller")


def test_corrupt_and_truncated_images_are_refused(tmp_path: Path) -> None:
    good = png_file(tmp_path / "good.png", pixels(64, 64)).read_bytes()
    (tmp_path / "half.png").write_bytes(good[: len(good) // 2])
    refused(tmp_path / "half.png", "half.png", "is not a readable image (PNG)", "truncated")
    refused(good[:20], "is not a readable image (PNG)")
    noise = np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    refused(good[:60] + noise, "is not a readable image (PNG)")
    jpeg = io.BytesIO()
    PIL.fromarray(pixels()).save(jpeg, format="JPEG")
    refused(jpeg.getvalue()[:200], "is not a readable image (JPEG)")


def test_a_30000_square_png_is_refused_from_its_header_without_allocating(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(30_000, 30_000))
    assert path.stat().st_size < 1000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    start = time.perf_counter()
    refused(path, "bomb.png", "decompression bomb", "900000000 pixels")  # Pillow's own guard
    refused(png_claiming(10_000, 5_000), "10000×5000", "decompression bombs")  # embed_nb's
    assert time.perf_counter() - start < 2.0
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 200 * 1024  # 2.7 GB of RGB was never allocated


def test_pillows_own_bomb_limit_is_respected_only_inside_the_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(PIL, "MAX_IMAGE_PIXELS", 1000)
    data = io.BytesIO()
    PIL.fromarray(pixels(40, 40)).save(data, format="PNG")  # 1600 pixels: over Pillow's limit
    filters = list(warnings.filters)
    refused(data.getvalue(), "decompression bomb")
    assert warnings.filters == filters  # the warning filter was changed for the call only


@pytest.mark.parametrize(
    ("fmt", "fragment"),
    [("ICO", "is in ICO format"), ("PDF", "is in PDF format"), ("TGA", "is in TGA format")],
)
def test_unsupported_formats_are_named(tmp_path: Path, fmt: str, fragment: str) -> None:
    path = tmp_path / f"picture.{fmt.lower()}"
    PIL.new("RGB", (16, 16)).save(path, format=fmt)
    refused(path, fragment, "convert it to PNG or JPEG")


def test_a_text_file_is_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("just some notes\n")
    refused(Image(tmp_path / "notes.png"), "holds text, not an image")


@pytest.mark.parametrize(
    ("array", "fragment"),
    [
        (np.zeros((4, 4, 3), dtype=np.float32), "(a * 255).astype(np.uint8)"),
        (np.zeros((4, 4), dtype=np.uint16), "(a // 257).astype(np.uint8)"),
        (np.zeros((4, 4), dtype=np.int64), "a.astype(np.uint8)"),
        (np.zeros((4, 4), dtype=bool), "a.astype(np.uint8) * 255"),
        (np.zeros((4, 4, 2), dtype=np.uint8), "(h, w, 3) RGB"),
        (np.zeros((0, 4, 3), dtype=np.uint8), "empty array"),
        (np.zeros((2, 2, 2, 3), dtype=np.uint8), "4-D array"),
    ],
)
def test_bad_arrays_are_refused_with_a_hint(array: np.ndarray, fragment: str) -> None:
    refused(array, fragment)


def test_a_huge_array_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(media._limits, "MAX_IMAGE_PIXELS", 100)
    refused(np.zeros((11, 10), dtype=np.uint8), "10×11 pixels", "scale it down")


def test_bad_types_and_captions_are_refused() -> None:
    refused("cat.png", "is a str, which is always a text", "pathlib.Path('cat.png')")
    refused(3.5, "is a float, not an image")
    refused(Image(3.5), "an Image's source is a float")
    refused(Image(pixels(), text=None), "must be a str, not NoneType")  # type: ignore[arg-type]
    refused(Image(pixels(), text="bad \ud800"), "lone surrogate")


def test_without_pillow_images_ask_for_the_extra_and_arrays_still_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = png_file(tmp_path / "cat.png", pixels())
    monkeypatch.setitem(__import__("sys").modules, "PIL", None)
    refused(path, "pip install 'embed_nb[images]'")
    decoded = decode_media(pixels())
    assert decoded.png_bytes().startswith(b"\x89PNG")


# --- thumbnails --------------------------------------------------------------------------


def test_thumbnails_are_small_jpegs_with_the_aspect_kept_never_upscaled() -> None:
    wide = decode_media(pixels(100, 200))
    with PIL.open(io.BytesIO(thumbnail(wide))) as small:
        assert small.format == "JPEG" and small.size == (128, 64)
    with PIL.open(io.BytesIO(thumbnail(wide, max_side=32))) as smaller:
        assert smaller.size == (32, 16)
    tiny = decode_media(pixels(10, 20))
    with PIL.open(io.BytesIO(thumbnail(tiny))) as same:
        assert same.size == (20, 10)
    with pytest.raises(InvalidInputError, match="max_side"):
        thumbnail(tiny, max_side=0)


def test_an_audio_thumbnail_is_a_png_of_its_waveform() -> None:
    sound = decode_media(Audio(sine(8000, 1.0), sample_rate=8000))
    with PIL.open(io.BytesIO(thumbnail(sound, max_side=100))) as picture:
        assert picture.format == "PNG" and picture.size == (100, 50)
        alpha = np.asarray(picture)[:, :, 3]
    drawn_rows = np.flatnonzero(alpha.any(axis=1))
    assert drawn_rows.min() > 5 and drawn_rows.max() < 44  # a 0.5 amplitude: the middle half
    assert alpha.any(axis=0).all()  # every column drawn
    short = decode_media(Audio(np.array([0.0, 1.0, -1.0]), sample_rate=8000))
    assert thumbnail(short, 64).startswith(b"\x89PNG")


# --- audio -------------------------------------------------------------------------------


def write_wav16(path: Path, frames: np.ndarray, rate: int) -> Path:
    channels = 1 if frames.ndim == 1 else frames.shape[1]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.round(frames * 32767).astype("<i2").tobytes())
    return path


def test_a_mono_wav_is_read(tmp_path: Path) -> None:
    tone = sine(16000, 2.5)
    sound = decode_media(Audio(write_wav16(tmp_path / "a.wav", tone, 16000), text="beep"))
    assert sound.kind == "audio" and sound.sample_rate == 16000
    assert sound.data.dtype == np.float32 and sound.data.shape == (40000,)
    np.testing.assert_allclose(sound.data, tone, atol=1e-4)
    assert sound.label == "a.wav — beep"
    assert sound.key_text == f"\x00audio:{sound.digest}\x00beep"
    assert decode_media(Path(tmp_path / "a.wav")).kind == "audio"  # sniffed from the bytes


def test_a_stereo_wav_is_mixed_to_mono(tmp_path: Path) -> None:
    left, right = sine(8000, 1.0), np.zeros(8000, dtype=np.float32)
    sound = decode_media(Path(write_wav16(tmp_path / "s.wav", np.stack([left, right], 1), 8000)))
    np.testing.assert_allclose(sound.data, left / 2, atol=1e-4)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_sample_formats(tmp_path: Path, subtype: str) -> None:
    tone = sine(22050, 0.5)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, tone, 22050, subtype=subtype, format="WAV")
    sound = decode_media(Audio(str(path)))
    atol = 1e-2 if subtype == "PCM_U8" else 1e-4
    np.testing.assert_allclose(sound.data, tone, atol=atol)
    assert sound.sample_rate == 22050


def test_flac_is_read_through_soundfile(tmp_path: Path) -> None:
    tone = sine(16000, 1.0)
    path = tmp_path / "a.flac"
    sf.write(path, tone, 16000, format="FLAC")
    sound = decode_media(Path(path))
    assert sound.sample_rate == 16000
    np.testing.assert_allclose(sound.data, tone, atol=1e-4)


def test_audio_arrays_need_a_rate_and_any_channel_order() -> None:
    tone = sine(16000, 1.0)
    refused(Audio(tone), "without a rate", "sample_rate=16000")
    mono = decode_media(Audio(tone, sample_rate=16000))
    assert mono.label == "audio 1.0 s"
    frames_first = decode_media(Audio(np.stack([tone, tone], 1), sample_rate=16000))
    channels_first = decode_media(Audio(np.stack([tone, tone], 0), sample_rate=16000))
    assert mono.digest == frames_first.digest == channels_first.digest
    as_int16 = decode_media(Audio(np.round(tone * 32768).astype(np.int16), sample_rate=16000))
    np.testing.assert_allclose(as_int16.data, tone, atol=1e-4)
    assert decode_media(Audio(tone, sample_rate=8000)).digest != mono.digest  # the rate counts


def test_bad_audio_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refused(Audio(np.zeros(0, np.float32), sample_rate=16000), "holds no samples")
    refused(Audio(np.array([0.0, np.nan]), sample_rate=16000), "NaN")
    refused(Audio(np.array([0.0, 3000.0]), sample_rate=16000), "a / 32768")
    refused(Audio(np.zeros(10, np.uint16), sample_rate=16000), "uint16 array")
    refused(Audio(np.zeros((20, 20)), sample_rate=16000), "at most 8 channels")
    refused(Audio(sine(100, 1), sample_rate=0), "sample_rate must be from 1")
    refused(Audio(sine(100, 1), sample_rate=1.5), "must be an int")  # type: ignore[arg-type]
    path = write_wav16(tmp_path / "a.wav", sine(8000, 1.0), 8000)
    refused(Audio(path, sample_rate=16000), "8000 Hz", "leave sample_rate out")
    refused(Audio(path.read_bytes()[:30]), "not a readable WAV file")
    (tmp_path / "empty.wav").write_bytes(path.read_bytes()[:44])
    refused(Path(tmp_path / "empty.wav"), "holds no samples")
    refused(Audio(b"OggS" + b"\x00" * 100), "not a readable audio file")
    monkeypatch.setattr(media._limits, "MAX_AUDIO_SECONDS", 0.5)
    refused(Path(path), "a.wav", "1 s long", "shorter clips")
    refused(Audio(sine(8000, 1.0), sample_rate=8000), "shorter clips")


def test_wav_bytes_and_resampling_keep_the_sound() -> None:
    tone = sine(44100, 1.0, freq=1000.0)
    sound = decode_media(Audio(tone, sample_rate=44100))
    back = decode_media(sound.wav_bytes())
    assert back.sample_rate == 44100
    np.testing.assert_allclose(back.data, sound.data, atol=1e-4)
    at_16k = sound.resampled(16000)
    assert at_16k.dtype == np.float32 and at_16k.shape == (16000,)
    assert abs(peak_hz(at_16k, 16000) - 1000.0) <= 1.0
    assert np.abs(at_16k).max() <= 1.0
    odd = decode_media(Audio(sine(44101, 1.0, 1000.0), sample_rate=44101)).resampled(16000)
    assert abs(len(odd) - 16000) <= 1 and abs(peak_hz(odd, 16000) - 1000.0) <= 2.0  # linear
    assert sound.resampled(44100) is sound.data
    with pytest.raises(InvalidInputError, match="only audio"):
        decode_media(pixels()).resampled(16000)
    with pytest.raises(InvalidInputError, match="is audio; use wav_bytes"):
        sound.png_bytes()


# --- paths and the truth table -----------------------------------------------------------


def test_media_paths_file_glob_directory_and_no_match(tmp_path: Path) -> None:
    for name in ("b.png", "a.JPG", "c.wav", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "deeper").mkdir()
    (tmp_path / "deeper" / "d.png").write_bytes(b"x")
    assert media_paths(str(tmp_path / "b.png")) == [tmp_path / "b.png"]
    assert [p.name for p in media_paths(tmp_path)] == ["a.JPG", "b.png", "c.wav"]
    assert [p.name for p in media_paths(str(tmp_path / "*.png"))] == ["b.png"]
    assert [p.name for p in media_paths(f"{tmp_path}/**/*.png")] == ["b.png", "d.png"]
    with pytest.raises(InvalidInputError, match=r"no file matches .*\*\.gif"):
        media_paths(str(tmp_path / "*.gif"))
    with pytest.raises(InvalidInputError, match="no file matches"):
        media_paths(str(tmp_path / "missing.png"))
    (tmp_path / "bare").mkdir()
    with pytest.raises(InvalidInputError, match="holds no image or audio file"):
        media_paths(str(tmp_path / "bare"))


def test_is_media_truth_table() -> None:
    media_items = [
        Image("cat.png"),
        Audio(b"x"),
        decode_media(pixels(2, 2)),
        Path("cat.png"),
        PurePosixPath("cat.png"),
        PIL.new("RGB", (2, 2)),
        b"\x89PNG",
        bytearray(b"x"),
        memoryview(b"x"),
        np.zeros((2, 2), np.uint8),
        np.zeros((2, 2, 3), np.uint8),
    ]
    texts_and_others = ["cat.png", "", np.zeros(3), np.zeros((1, 1, 1, 1)), 3, None, ["a"]]
    assert all(is_media(item) for item in media_items)
    assert not any(is_media(item) for item in texts_and_others)


def test_media_is_not_compared_by_value() -> None:
    one, two = decode_media(pixels()), decode_media(pixels())
    assert one != two and one.digest == two.digest  # eq=False: compare digests
    assert isinstance(one, Media)
