"""Images and audio as inputs: what users pass, checked and decoded before llama.cpp sees it.

Users pass :class:`Image` or :class:`Audio` (or a bare path, bytes, PIL image or uint8 array)
beside their texts. :func:`decode_media` turns each into a :class:`Media`: plain RGB pixels or
mono float32 samples, a digest of them for the cache, and a short label for the views.

Untrusted bytes are decoded here, in Python, by Pillow (images) or by a small WAV reader or
soundfile (audio), after their size and format are checked: a file larger than
:data:`MAX_FILE_BYTES`, an image with more than :data:`MAX_IMAGE_PIXELS` pixels (checked from its
header, before any pixel is decoded) or audio longer than :data:`MAX_AUDIO_SECONDS` is refused.
llama.cpp then only ever gets raw pixels or samples, or a PNG/WAV written by
its own codecs (``_codecs``). Every refusal is a one-line :class:`InvalidInputError` that names the
input and says what to do.

Pillow and soundfile are the optional extra ``embed_nb[images]``; both are imported on first use.
Audio WAV files and uint8 arrays need neither.
"""

from __future__ import annotations

from ._decode import decode_media, is_media, thumbnail
from ._limits import (
    AUDIO_EXTENSIONS,
    IMAGE_EXTENSIONS,
    IMAGE_FORMATS,
    MAX_AUDIO_SECONDS,
    MAX_FILE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_MEDIA_PATHS,
    MAX_SAMPLE_RATE,
)
from ._paths import media_inputs, media_paths
from ._types import Audio, Image, Media

__all__ = [
    "AUDIO_EXTENSIONS",
    "IMAGE_EXTENSIONS",
    "IMAGE_FORMATS",
    "MAX_AUDIO_SECONDS",
    "MAX_FILE_BYTES",
    "MAX_IMAGE_PIXELS",
    "MAX_MEDIA_PATHS",
    "MAX_SAMPLE_RATE",
    "Audio",
    "Image",
    "Media",
    "decode_media",
    "is_media",
    "media_inputs",
    "media_paths",
    "thumbnail",
]
