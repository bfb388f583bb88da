"""CarrierGuard: contract screening and phishing-mail defence for Japanese carriers.

The public surface is small on purpose; everything else is reached through
sub-packages (``carrierguard.contracts``, ``carrierguard.mail``, ...).
"""

from carrierguard.errors import CarrierGuardError

__version__ = "0.1.0"
__all__ = ["CarrierGuardError", "__version__"]
