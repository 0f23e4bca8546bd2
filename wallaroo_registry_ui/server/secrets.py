"""Registry tokens at rest: encrypted with a key that never sits in the database.

The key comes from ``WALLAROO_REGISTRY_SECRET_KEY`` (a Fernet key, or any passphrase, which is
stretched into one) or from a key file in the data dir, created readable by its owner only.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from wallaroo_registry_ui.server.settings import SECRET_KEY_ENV


class TokenCipher:
    """Encrypts and decrypts registry tokens."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_environment(cls, key_file: Path) -> TokenCipher:
        configured = os.environ.get(SECRET_KEY_ENV)
        if configured:
            return cls(_as_fernet_key(configured))
        return cls(_load_or_create_key_file(key_file))

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise RuntimeError(
                "a stored registry token cannot be decrypted: the secret key changed"
            ) from exc


def _as_fernet_key(configured: str) -> bytes:
    raw = configured.strip().encode("utf-8")
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except ValueError:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())


def _load_or_create_key_file(key_file: Path) -> bytes:
    if key_file.exists():
        return key_file.read_bytes().strip()
    key = Fernet.generate_key()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return key_file.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


MAX_TOKEN = 16 * 1024


def token_problem(token: str) -> str | None:
    """Why ``token`` cannot travel in an HTTP ``Authorization`` header; None when it can.

    Headers carry printable ASCII; a line break would split the header, and anything else
    fails only when the registry is first called, long after the token was given.
    """
    if len(token) > MAX_TOKEN:
        return f"must be at most {MAX_TOKEN} characters"
    if not all("!" <= char <= "~" for char in token):
        return (
            "must be printable ASCII without spaces or line breaks "
            "(it is sent in an HTTP Authorization header)"
        )
    return None


def hash_api_token(token: str) -> str:
    """API tokens are stored as their sha256, so a leaked database grants nothing."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
