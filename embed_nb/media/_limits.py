"""The limits on what is decoded, and the formats taken. Read as ``_limits.NAME`` at the time of
use, so that tests (and users) can lower them."""

from __future__ import annotations

#: The largest image or audio file read (64 MiB).
MAX_FILE_BYTES = 64 * 1024**2

#: The most pixels an image may have (40 million, e.g. 8000×5000); checked from the header.
MAX_IMAGE_PIXELS = 40_000_000

#: The longest audio accepted, in seconds (10 minutes).
MAX_AUDIO_SECONDS = 600.0

#: The highest sample rate accepted, in Hz.
MAX_SAMPLE_RATE = 768_000

#: The most files one :func:`media_paths` pattern may name.
MAX_MEDIA_PATHS = 100_000

#: The image formats decoded (Pillow's names; its JPEG decoder also reads the MPO files many
#: cameras write, as their first picture).
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")

#: File name extensions :func:`media_paths` takes from a directory.
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".mpo"}
)

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"})
