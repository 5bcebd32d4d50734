"""Webhook secrets sealed at rest: Fernet with a key derived from RELAY_SECRET_KEY by HKDF.

A database dump or a backup alone does not give away the secrets that sign deliveries. The
key is never stored: it is derived from the server's secret key, and from each old key listed
in RELAY_SECRET_KEY_FALLBACKS, so secrets sealed before a key rotation still open; `relay
webhook reseal` then seals them all under the current key, after which the old key can go.
"""

import base64
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from relay.errors import N_, Unavailable

# Distinct from anything else the secret key may be used for.
_INFO = b"relay/webhook-secrets/v1"
# Sealed values are Fernet tokens; a clear Standard Webhooks secret starts with whsec_.
CLEAR_PREFIX = "whsec_"


class SealError(Unavailable):
    """A sealed value opens with none of the configured keys (a configuration error: 503)."""

    code = "secret_key_mismatch"


def derive(secret_key: str) -> bytes:
    """Derive the Fernet key for ``secret_key``."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)


@dataclass(frozen=True)
class Keys:
    """The current secret key (seals and opens) and the old ones (only open)."""

    current: str
    fallbacks: tuple[str, ...] = ()

    @classmethod
    def of(cls, secret_key: str, fallbacks: Sequence[str] | str | None = None) -> "Keys":
        """Build from SECRET_KEY and SECRET_KEY_FALLBACKS (a list, or one key as a string)."""
        if isinstance(fallbacks, str):
            fallbacks = [fallbacks] if fallbacks else []
        return cls(str(secret_key), tuple(str(k) for k in fallbacks or ()))

    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(derive(k)) for k in (self.current, *self.fallbacks)])

    def seal(self, clear: str) -> str:
        """Seal a secret under the current key."""
        return self._fernet().encrypt(clear.encode()).decode()

    def open(self, sealed: str) -> str:
        """Open a sealed secret with the current key or an old one."""
        try:
            return self._fernet().decrypt(sealed.encode()).decode()
        except InvalidToken as err:
            raise SealError(_UNOPENED) from err

    def reseal(self, sealed: str) -> str:
        """Seal again under the current key what an old key sealed."""
        try:
            return self._fernet().rotate(sealed.encode()).decode()
        except InvalidToken as err:
            raise SealError(_UNOPENED) from err


_UNOPENED = N_(
    "A webhook secret opens with neither RELAY_SECRET_KEY nor any key in "
    "RELAY_SECRET_KEY_FALLBACKS: was the secret key changed without keeping the old one as "
    "a fallback?"
)
