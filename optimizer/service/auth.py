"""API keys: read from the environment or a file, kept only as hashes, compared in constant time.

A key is known to the service by two things derived from it: its SHA-256 digest (to check a
presented key) and its *key id*, the first 12 hex digits of that digest, which owns jobs and
appears in logs and the audit log. The key itself is never stored or logged. Keys are meant
to be long random tokens (``python -c "import secrets; print(secrets.token_urlsafe(32))"``),
so an unsalted hash is enough: nobody can guess one from its digest.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from pathlib import Path

from optimizer.service.settings import ServiceSettings

logger = logging.getLogger("iop_roster.service")

ANONYMOUS = "anonymous"
_HASH_PREFIX = "sha256:"
_SHORT_KEY = 16


class ConfigurationError(Exception):
    """The service cannot start as configured (no key, unreadable keys file, bad hash)."""


def key_digest(key: str) -> bytes:
    """SHA-256 digest of a key."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def key_id_of(digest: bytes) -> str:
    """The short, loggable id of a key: 12 hex digits of its digest."""
    return digest.hex()[:12]


def _parse_entry(entry: str, source: str) -> bytes:
    if entry.startswith(_HASH_PREFIX):
        hexdigest = entry.removeprefix(_HASH_PREFIX)
        try:
            digest = bytes.fromhex(hexdigest)
        except ValueError:
            digest = b""
        if len(digest) != 32:
            raise ConfigurationError(f"{source}: a 'sha256:' entry needs 64 hex digits")
        return digest
    if len(entry) < _SHORT_KEY:
        logger.warning("an API key from %s is shorter than %d characters: use long random keys", source, _SHORT_KEY)
    return key_digest(entry)


@dataclass(frozen=True)
class KeyRing:
    """The digests of the accepted keys, or an open door in insecure mode.

    Attributes
    ----------
    digests
        SHA-256 digests of the accepted keys.
    insecure
        Accept every request as the ``anonymous`` key.
    """

    digests: tuple[bytes, ...]
    insecure: bool = False

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> KeyRing:
        """Keys from ``api_keys`` and ``api_keys_file``.

        Raises
        ------
        ConfigurationError
            No key configured and not ``insecure_no_auth``, or the keys file is unreadable.
        """
        digests: list[bytes] = []
        if settings.api_keys is not None:
            for entry in settings.api_keys.get_secret_value().split(","):
                if entry.strip():
                    digests.append(_parse_entry(entry.strip(), "IOP_ROSTER_API_KEYS"))
        if settings.api_keys_file is not None:
            path = Path(settings.api_keys_file)
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as error:
                raise ConfigurationError(f"API keys file {path} cannot be read: {error.strerror}") from None
            for line in lines:
                entry = line.split("#", 1)[0].strip()
                if entry:
                    digests.append(_parse_entry(entry, "IOP_ROSTER_API_KEYS_FILE"))
        if not digests and not settings.insecure_no_auth:
            raise ConfigurationError(
                "no API key configured: set IOP_ROSTER_API_KEYS or IOP_ROSTER_API_KEYS_FILE "
                "(or, for local development only, pass --insecure-no-auth)"
            )
        return cls(tuple(dict.fromkeys(digests)), insecure=settings.insecure_no_auth and not digests)

    def identify(self, presented: str | None) -> str | None:
        """The key id of a presented key, ``anonymous`` in insecure mode, None if refused.

        Every stored digest is compared, each with :func:`hmac.compare_digest`, so the time
        taken says nothing about which key, or how much of one, matched.
        """
        if self.insecure:
            return ANONYMOUS
        if not presented:
            return None
        digest = key_digest(presented)
        matched = False
        for known in self.digests:
            matched |= hmac.compare_digest(digest, known)
        return key_id_of(digest) if matched else None
