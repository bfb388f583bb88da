"""The VOPRF exchange behind cross-carrier tokens, pinned to RFC 9497's test vectors."""

from __future__ import annotations

import hashlib

import pytest

from carrierguard.crosscarrier import oprf
from carrierguard.errors import CrossCarrierUnavailable, InvalidInput

# RFC 9497 Appendix A.1.2, ristretto255-SHA512, VOPRF mode.
SEED = bytes([0xA3]) * 32
KEY_INFO = b"test key"
PK_SM = "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e"
OUTPUT_OF_00 = (
    "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7d"
    "a4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c"
)


def test_key_derivation_and_output_match_rfc9497_vectors() -> None:
    evaluator = oprf.Evaluator(SEED, KEY_INFO)
    assert evaluator.public_key.hex() == PK_SM
    expected = hashlib.sha256(
        b"carrierguard-xc-token\x00" + bytes.fromhex(OUTPUT_OF_00)
    ).hexdigest()
    assert evaluator.token_of("\x00") == expected


def test_blinded_exchange_gives_the_direct_token_and_hides_the_input() -> None:
    evaluator = oprf.Evaluator(oprf.new_seed())
    people = ["individual|高橋一郎|1985-04-01", "individual|高橋一郎|1985-04-02"]
    blinded = oprf.blind(people)
    assert all(p.encode() not in e for p in people for e in blinded.elements)
    again = oprf.blind(people)
    assert blinded.elements != again.elements  # fresh blinds: the evaluator cannot link
    tokens = oprf.finalize(
        blinded, evaluator.evaluate(list(blinded.elements)), evaluator.public_key
    )
    assert tokens == [evaluator.token_of(p) for p in people]
    assert tokens[0] != tokens[1] and len(tokens[0]) == 64


def test_an_answer_under_another_key_fails_its_proof() -> None:
    pinned = oprf.Evaluator(oprf.new_seed())
    impostor = oprf.Evaluator(oprf.new_seed())
    blinded = oprf.blind(["individual|x|2000-01-01"])
    with pytest.raises(CrossCarrierUnavailable):
        oprf.finalize(blinded, impostor.evaluate(list(blinded.elements)), pinned.public_key)


def test_the_evaluator_refuses_garbage_empty_and_oversized_batches() -> None:
    evaluator = oprf.Evaluator(oprf.new_seed())
    with pytest.raises(InvalidInput):
        evaluator.evaluate([b"\x01" * 32])  # not a canonical ristretto255 encoding
    with pytest.raises(InvalidInput):
        evaluator.evaluate([])
    one = oprf.blind(["a"]).elements[0]
    with pytest.raises(InvalidInput):
        evaluator.evaluate([one] * (oprf.MAX_BATCH + 1))
    with pytest.raises(ValueError):
        oprf.Evaluator(b"short")
