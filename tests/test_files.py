"""embed_nb.files: outputs replaced whole or not at all, inputs read up to a limit."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import pytest

from embed_nb.errors import EmbedNbError, FileAccessError
from embed_nb.files import atomic_write, read_capped


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_a_write_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with atomic_write(target) as handle:
        handle.write(b"new contents")
        assert target.read_bytes() == b"old"  # nothing shows until the write is complete
    assert target.read_bytes() == b"new contents"
    assert leftovers(tmp_path) == []


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"good")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write(b"half")
        raise RuntimeError("the disk went away")
    assert target.read_bytes() == b"good"
    assert leftovers(tmp_path) == []


def test_an_oserror_while_writing_is_a_one_line_embed_nb_error(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"good")
    with pytest.raises(FileAccessError) as caught, atomic_write(target):
        raise OSError(28, "No space left on device")
    assert isinstance(caught.value, EmbedNbError) and isinstance(caught.value, OSError)
    assert str(caught.value) == (
        f"cannot write {target}: No space left on device; free some space or choose another disk"
    )
    assert target.read_bytes() == b"good" and leftovers(tmp_path) == []


def test_text_mode_and_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    with atomic_write(target, "w") as handle:
        handle.write("café\n")
    assert target.read_text(encoding="utf-8") == "café\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    target.chmod(0o640)
    with atomic_write(target, "w") as handle:
        handle.write("again")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


@pytest.mark.parametrize(
    ("where", "match"),
    [
        ("missing/out.bin", "No such file or directory; create the directory first"),
        ("", "directory"),
    ],
)
def test_unwritable_targets(tmp_path: Path, where: str, match: str) -> None:
    with pytest.raises(FileAccessError, match=match), atomic_write(tmp_path / where):
        pass


def test_a_special_file_is_written_directly(tmp_path: Path) -> None:
    with atomic_write(os.devnull) as handle:
        handle.write(b"gone")
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with pytest.raises(FileAccessError, match="No space left"), atomic_write("/dev/full") as out:
        out.write(b"x" * 100_000)
    assert leftovers(Path("/dev")) == []


def test_read_capped(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"x" * 100)
    assert read_capped(source, 100) == b"x" * 100
    with pytest.raises(FileAccessError, match="more than 99 bytes"):
        read_capped(source, 99)
    assert read_capped(io.BytesIO(b"abc"), 3) == b"abc"
    with pytest.raises(FileAccessError, match="stdin holds more than"):
        read_capped(io.BytesIO(b"abcd"), 3)
    with pytest.raises(FileAccessError, match="No such file"):
        read_capped(tmp_path / "missing.txt")
    with pytest.raises(FileAccessError, match="is a directory"):
        read_capped(tmp_path)


def test_an_endless_file_costs_only_the_limit() -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    with pytest.raises(FileAccessError, match="/dev/zero holds more than 1 MiB"):
        read_capped("/dev/zero", 1024**2)
