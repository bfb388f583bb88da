"""Cross-carrier line count that reveals no identities (C1, the report's "natural next step").

A person who holds 5 voice lines at each of several carriers passes every per-carrier cap.
Carriers can add up a person's lines across the industry without telling anyone who the
person is:

1. **Token.** A carrier turns the person's identity key (the normalised name and birth date
   that also key its own registry, ``contracts.identity_link.identity_string``) into a
   *token* with an oblivious PRF (RFC 9497, VOPRF mode, ristretto255-SHA512). It blinds the
   key, the hub's **evaluator** applies its secret key to the blinded value and proves
   (DLEQ) that it used the published key, and the carrier unblinds. The evaluator never sees
   the key or the token; nobody without the evaluator's secret can compute a token, so a
   token cannot be reversed by trying names and birth dates.
2. **Counts.** Each carrier publishes, per token, how many lines it holds by SIM type to the
   hub's **registry**. The registry sees tokens and counts, never names.
3. **Query.** At screening, a carrier asks the registry for the lines held by a token at
   *other* carriers. The answer is totals only: not which carriers, not when.

The evaluator and the registry are separate roles (and, in production, separate operators):
whoever holds the evaluator's key could compute the token of a guessed person, so it must
not also hold the counts. Both can run in one ``carrierguard serve`` for a trial.

Modules: ``oprf`` (the RFC 9497 exchange, over the ``voprf`` library), ``client`` (what a
carrier runs: tokens, lookup at screening, publishing its book). The registry's table is in
``store.crosscarrier`` and its routes in ``web.api.crosscarrier``; the rule that turns the
count into a screening reason is the pure ``contracts.cross_carrier``.
"""
