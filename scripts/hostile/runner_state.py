"""Where the parent's fixtures are (set before the probe lists are built)."""

from __future__ import annotations

from pathlib import Path

FIXTURES: Path = Path()
