"""Hashed n-gram features computed with numpy, stable across processes and platforms.

scikit-learn's HashingVectorizer costs milliseconds of fixed overhead per call, which caps a
one-message-at-a-time milter far below 200 messages per second. Here character n-grams are
polynomial hashes over the code points (vectorised), words are hashed with CRC-32, and each
block of a row is L2-normalised. The mapping is part of the model format: changing it means
retraining.
"""

from __future__ import annotations

import re
import zlib

import numpy as np
import scipy.sparse as sp  # type: ignore[import-untyped]

_BASE = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(29)
_WORD = re.compile(r"(?u)\b\w\w+\b")


def _finish(h: np.ndarray, salt: int, n_features: int) -> np.ndarray:
    x = h ^ np.uint64(salt * 0x632BE59BD9B4E019 & 0xFFFFFFFFFFFFFFFF)  # a new array
    x *= _MIX
    x >>= _SHIFT
    if n_features & (n_features - 1) == 0:  # a power of two: the remainder is the low bits
        x &= np.uint64(n_features - 1)
    else:
        x %= np.uint64(n_features)
    return x.astype(np.int64)


def char_ngram_indices(text: str, n_min: int, n_max: int, n_features: int) -> np.ndarray:
    """Hashed indices of every character n-gram of ``text`` with n in [n_min, n_max]."""
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    parts = []
    length = len(cps)
    with np.errstate(over="ignore"):
        # h[i] of the n-grams is h[i] of the (n-1)-grams * BASE + cps[i + n - 1]: the same
        # wrapping polynomial as computing each n from scratch, with one step per n.
        h = cps
        for n in range(1, n_max + 1):
            if length < n:
                break
            if n > 1:
                h = h[:-1] * _BASE + cps[n - 1 :]
            if n >= n_min:
                parts.append(_finish(h, n, n_features))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def word_ngram_indices(text: str, n_max: int, n_features: int) -> np.ndarray:
    """Hashed indices of word 1..n_max-grams (words of two or more word characters)."""
    words = _WORD.findall(text.lower())
    if not words:
        return np.zeros(0, dtype=np.int64)
    base = np.array([zlib.crc32(w.encode("utf-8")) for w in words], dtype=np.uint64)
    parts = [_finish(base, 101, n_features)]
    h = base
    with np.errstate(over="ignore"):
        for n in range(2, n_max + 1):
            if len(base) < n:
                break
            h = h[:-1] * _BASE + base[n - 1 :]
            parts.append(_finish(h, 100 + n, n_features))
    return np.concatenate(parts)


def counted(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(columns, L2-normalised counts) of one row's hashed indices."""
    cols, counts = np.unique(idx, return_counts=True)
    values = counts.astype(np.float64)
    norm = float(np.sqrt((values * values).sum()))
    return cols, (values / norm if norm else values)


def stack_rows(rows: list[list[tuple[np.ndarray, np.ndarray]]], width: int) -> sp.csr_matrix:
    """One CSR matrix from rows given as (columns, values) blocks already offset."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    for i, blocks in enumerate(rows):
        size = 0
        for c, v in blocks:
            cols.append(c)
            vals.append(v)
            size += len(c)
        indptr[i + 1] = indptr[i] + size
    return sp.csr_matrix(
        (
            np.concatenate(vals) if vals else np.zeros(0),
            np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64),
            indptr,
        ),
        shape=(len(rows), width),
    )


def rows_to_csr(rows: list[np.ndarray], n_features: int) -> sp.csr_matrix:
    """Count the indices of each row and L2-normalise: one CSR matrix."""
    return stack_rows([[counted(idx)] for idx in rows], n_features)
