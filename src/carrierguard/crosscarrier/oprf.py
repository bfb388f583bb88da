"""The RFC 9497 VOPRF exchange (ristretto255-SHA512, verifiable mode) behind cross-carrier tokens.

``Evaluator`` is the hub's side (it holds the secret key); ``blind`` and ``finalize`` are the
carrier's. Every value on the wire is bytes, base64-encoded by the HTTP layer. The ``voprf``
library's errors are translated here: callers see ``InvalidInput`` for malformed values and
``CrossCarrierUnavailable`` for a proof that does not verify (a hub using another key).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from voprf import ristretto

from carrierguard.errors import CrossCarrierUnavailable, InvalidInput

SUITE = "ristretto255-SHA512"
MODE = "voprf"
#: The key-derivation info of RFC 9497 DeriveKeyPair: public; a new one means a new key.
KEY_INFO = b"carrierguard cross-carrier tokens v1"
#: RFC 9497 caps one batch at 2^16 - 1 elements; we keep requests far smaller.
MAX_BATCH = 1000
SEED_BYTES = 32


def new_seed() -> bytes:
    """A fresh secret seed for ``Evaluator.from_seed`` (keep it like a private key)."""
    return secrets.token_bytes(SEED_BYTES)


class Evaluator:
    """The hub's VOPRF key: evaluates blinded identity keys and proves which key it used."""

    def __init__(self, seed: bytes, info: bytes = KEY_INFO) -> None:
        if len(seed) != SEED_BYTES:
            raise ValueError(f"the VOPRF seed must be {SEED_BYTES} bytes, got {len(seed)}")
        self._key = ristretto.Evaluator.from_seed(seed, info)
        self.public_key = self._key.public_key.serialize()

    def evaluate(self, blinded: Sequence[bytes]) -> bytes:
        """``BlindEvaluate`` of a batch, with one DLEQ proof for the whole batch."""
        return self.evaluate_points(parse_blinded(blinded))

    def evaluate_points(self, elements: Sequence[ristretto.BlindedInput]) -> bytes:
        """``evaluate`` of a batch already read by ``parse_blinded``."""
        return self._key.evaluate_batch(list(elements)).serialize()

    def token_of(self, identity: str) -> str:
        """The token of ``identity`` computed directly (tests and key checks only)."""
        return token_from_output(self._key.evaluate_known_input(identity.encode("utf-8")))


def parse_blinded(blinded: Sequence[bytes]) -> list[ristretto.BlindedInput]:
    """Read a batch of blinded elements; InvalidInput for an empty, oversized or bad one."""
    if not blinded:
        raise InvalidInput("no blinded elements", message_ja="照会するトークンがありません。")
    if len(blinded) > MAX_BATCH:
        raise InvalidInput(
            f"at most {MAX_BATCH} blinded elements per request, got {len(blinded)}",
            message_ja=f"一度に照会できるのは {MAX_BATCH} 件までです。",
        )
    try:
        return [ristretto.BlindedInput.deserialize(b) for b in blinded]
    except ValueError as exc:
        raise InvalidInput(
            f"a blinded element is not a ristretto255 point: {exc}",
            message_ja="ブラインド化された値が不正です。",
        ) from exc


@dataclass(frozen=True, slots=True)
class Blinded:
    """A carrier's blinded batch: the wire values and the state needed to unblind them."""

    clients: tuple[ristretto.Client, ...]
    elements: tuple[bytes, ...]


def blind(identities: Sequence[str]) -> Blinded:
    """Blind each identity key with a fresh random scalar (the evaluator learns nothing)."""
    clients, elements = [], []
    for identity in identities:
        client, element = ristretto.Client.blind(identity.encode("utf-8"))
        clients.append(client)
        elements.append(element.serialize())
    return Blinded(tuple(clients), tuple(elements))


def finalize(blinded: Blinded, evaluated: bytes, public_key: bytes) -> list[str]:
    """Unblind the evaluator's answer, verifying its proof against the pinned ``public_key``."""
    try:
        key = ristretto.PublicKey.deserialize(public_key)
        output = ristretto.VerifiableBatchOutput.deserialize(evaluated)
        raw = ristretto.Client.finalize_batch(list(blinded.clients), output, key)
    except ValueError as exc:
        raise _unverified(str(exc)) from exc
    except BaseException as exc:
        # voprf 0.2's finalize_batch panics (pyo3 PanicException, a BaseException) instead
        # of raising when the batch proof fails; anything else goes on up.
        if type(exc).__name__ != "PanicException":
            raise
        raise _unverified("proof verification failed") from None
    return [token_from_output(out) for out in raw]


def _unverified(why: str) -> CrossCarrierUnavailable:
    return CrossCarrierUnavailable(
        f"the hub's answer does not verify against the pinned VOPRF key: {why}",
        message_ja="照会基盤の応答を検証できません（鍵が一致しません）。",
    )


def token_from_output(output: bytes) -> str:
    """The registry's token: SHA-256 of the 64-byte PRF output, hex (fixed width)."""
    return hashlib.sha256(b"carrierguard-xc-token\x00" + output).hexdigest()
