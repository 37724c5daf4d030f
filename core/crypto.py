"""Encryption at rest for personal data, and keyed hashes for exact lookup.

`STORECRM_DATA_KEY` is a comma list of Fernet keys, newest first. Values are encrypted with
the newest; any listed key decrypts, so rotation can re-encrypt in batches and resume.
Lookup hashes are HMAC-SHA256 under a key derived from each data key, so the database file
alone reveals neither the phone number nor a hash that could be brute-forced offline
without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from sqlalchemy.types import Text, TypeDecorator


class DataKeyError(RuntimeError):
    pass


def generate_key() -> str:
    return Fernet.generate_key().decode()


class DataCipher:
    def __init__(self, keys: str | list[str]):
        if isinstance(keys, str):
            keys = [k.strip() for k in keys.split(",") if k.strip()]
        if not keys:
            raise DataKeyError("no data key given")
        try:
            self._fernets = [Fernet(k.encode()) for k in keys]
        except (ValueError, TypeError) as exc:
            raise DataKeyError(
                "STORECRM_DATA_KEY must be Fernet keys (url-safe base64 of 32 bytes), comma separated; "
                "make one with `storecrm keys generate`"
            ) from exc
        self._multi = MultiFernet(self._fernets)
        self._hash_keys = [self._derive_hash_key(k) for k in keys]

    @staticmethod
    def _derive_hash_key(key: str) -> bytes:
        return hashlib.sha256(b"storecrm-lookup-hash:" + key.encode()).digest()

    def encrypt(self, value: str) -> str:
        return self._multi.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise DataKeyError("a stored value cannot be decrypted with any configured data key") from exc

    def encrypt_bytes(self, value: bytes) -> bytes:
        """For files (an import's upload, in chunks): bytes in, a Fernet token out."""
        return self._multi.encrypt(value)

    def decrypt_bytes(self, token: bytes) -> bytes:
        try:
            return self._multi.decrypt(token)
        except InvalidToken as exc:
            raise DataKeyError("a stored file cannot be decrypted with any configured data key") from exc

    def is_current(self, token: str) -> bool:
        """Whether a stored value is encrypted under the newest key (rotation skips it then)."""
        try:
            self._fernets[0].decrypt(token.encode())
            return True
        except InvalidToken:
            return False

    def rotate(self, token: str) -> str:
        """Re-encrypt a stored value under the newest key."""
        return self._multi.rotate(token.encode()).decode()

    def lookup_hash(self, value: str) -> str:
        """Keyed hash under the newest key: what is stored next to the encrypted value."""
        return self._hash(self._hash_keys[0], value)

    def lookup_hashes(self, value: str) -> list[str]:
        """Hashes under every configured key: a lookup during a key rotation matches either."""
        return [self._hash(k, value) for k in self._hash_keys]

    @staticmethod
    def _hash(key: bytes, value: str) -> str:
        return base64.urlsafe_b64encode(hmac.new(key, value.encode(), hashlib.sha256).digest()).decode()[:43]


def cipher() -> DataCipher:
    return current_app.extensions["storecrm.cipher"]


class EncryptedText(TypeDecorator):
    """A text column stored as Fernet ciphertext; Python code sees plain strings."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or value == "":
            return None
        return cipher().encrypt(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return cipher().decrypt(value)
