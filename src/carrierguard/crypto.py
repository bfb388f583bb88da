"""Protection of personal data at rest.

One 32-byte data key (see ``config.Settings.resolved_data_key``) is split with HKDF
into a key for blind indexes (HMAC-SHA256: find a holder by identity without storing
the identity in clear) and a key for sealing personal fields (AES-256-GCM).
Never log what goes in or comes out of this module.
"""

from __future__ import annotations

import hashlib
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from carrierguard.errors import CarrierGuardError

_NONCE = 12
_VERSION = b"\x01"
_SHA256_BLOCK = 64
#: ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` without building an encoder per call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The C encoder that JSONEncoder.encode builds on each call, built once: for a flat
# object of strings it writes the same text (no circular check is needed there).
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_C_JSON = (
    _c_make_encoder(
        None, _JSON.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    if _c_make_encoder is not None
    else None
)


def _json_text(fields: dict[str, str]) -> str:
    """``json.dumps(fields, ensure_ascii=False, separators=(",", ":"))``."""
    if _C_JSON is None:
        return _JSON.encode(fields)
    return "".join(_C_JSON(fields, 0))


class DataKeyMismatch(CarrierGuardError):
    code = "DATA_KEY_MISMATCH"
    default_ja = "個人データを復号できません。データ鍵が登録時と異なります。"


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


class DataProtector:
    """Blind index and authenticated encryption for personal fields."""

    __slots__ = ("_aead", "_index_key", "_inner", "_outer")

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != 32:
            raise ValueError("the data key must be 32 bytes")
        self._index_key = _derive(master_key, b"carrierguard/blind-index/v1")
        self._aead = AESGCM(_derive(master_key, b"carrierguard/pii-seal/v1"))
        # HMAC-SHA256 (RFC 2104) with its two padded-key states hashed once: each index
        # then costs two SHA-256 copies instead of a new HMAC (the import makes millions).
        padded = self._index_key.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def blind_index(self, value: str) -> str:
        """A keyed digest of ``value``: equal inputs give equal indexes, nothing reveals it.

        Equal to ``hmac.new(index_key, value.encode("utf-8"), hashlib.sha256).hexdigest()``.
        """
        inner = self._inner.copy()
        inner.update(value.encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def seal(self, fields: dict[str, str | None]) -> bytes:
        """Encrypt ``fields`` (dropping empty ones) into one opaque blob."""
        kept = {k: v for k, v in fields.items() if v}
        nonce = os.urandom(_NONCE)
        plain = _json_text(kept).encode("utf-8")
        return _VERSION + nonce + self._aead.encrypt(nonce, plain, _VERSION)

    def open(self, blob: bytes) -> dict[str, str]:
        """Decrypt a blob made by ``seal``."""
        if not blob or blob[:1] != _VERSION:
            raise DataKeyMismatch("sealed personal data has an unknown format")
        nonce, body = blob[1 : 1 + _NONCE], blob[1 + _NONCE :]
        try:
            plain = self._aead.decrypt(nonce, body, _VERSION)
        except InvalidTag as exc:
            raise DataKeyMismatch("personal data cannot be decrypted with this data key") from exc
        data: dict[str, str] = json.loads(plain)
        return data
