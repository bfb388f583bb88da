"""The ``carrierguard`` command: one module per pillar, assembled in ``main``."""
