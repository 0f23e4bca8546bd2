"""Registry tokens at rest: encrypted with a key that never sits in the database.

The key comes from ``WALLAROO_REGISTRY_SECRET_KEY`` (a Fernet key, or any passphrase, which is
stretched into one) or from a key file (in the data dir unless ``--secret-key-file`` puts it
elsewhere), created readable by its owner only. A key is made only for a store that holds no
encrypted token yet; one that does needs the key it was written with, checked at start.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from wallaroo_registry_ui.server.settings import SECRET_KEY_ENV, SECRET_KEY_FILE_ENV

log = logging.getLogger("wallaroo_registry_ui.server")

KEY_FILE_MODE = 0o600


class SecretKeyError(RuntimeError):
    """The key cannot be used with this store: missing, unreadable, or not the one the stored
    tokens were encrypted with. The message says which, and what to do."""


class TokenCipher:
    """Encrypts and decrypts registry tokens."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise SecretKeyError(
                "the secret key is not a valid key (32 url-safe base64 bytes)"
            ) from exc

    @classmethod
    def from_environment(cls, key_file: Path, stored_sample: str | None = None) -> TokenCipher:
        """The cipher of ``WALLAROO_REGISTRY_SECRET_KEY`` or of ``key_file``.

        ``stored_sample`` is one token the store already holds, encrypted, or None for a store
        without any: the key file is created only in that case, and the key must decrypt it.
        """
        configured = os.environ.get(SECRET_KEY_ENV)
        if configured:
            cipher = cls(_as_fernet_key(configured))
            where = f"the key in {SECRET_KEY_ENV}"
        else:
            cipher = cls(_load_or_create_key_file(key_file, create=stored_sample is None))
            where = f"the key file {key_file}"
        if stored_sample is not None and not cipher.can_decrypt(stored_sample):
            raise SecretKeyError(
                f"{where} does not decrypt the registry tokens in the database: they were "
                "encrypted with another key; restore that key (--secret-key-file, "
                f"{SECRET_KEY_FILE_ENV} or {SECRET_KEY_ENV})"
            )
        return cipher

    def can_decrypt(self, ciphertext: str) -> bool:
        try:
            self._fernet.decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, ValueError):
            return False
        return True

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken as exc:
            raise SecretKeyError(
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


def _load_or_create_key_file(key_file: Path, *, create: bool) -> bytes:
    """The key in ``key_file``; when it is missing and ``create``, a new one written there."""
    if key_file.exists():
        return _read_key_file(key_file)
    if not create:
        raise SecretKeyError(
            f"the key file {key_file} does not exist, but the database holds registry tokens "
            "encrypted with a key: restore the file, or point --secret-key-file (or "
            f"{SECRET_KEY_FILE_ENV}) at it"
        )
    key = Fernet.generate_key()
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if _publish_key(key_file, key):
        return key
    return _read_key_file(key_file)


def _publish_key(key_file: Path, key: bytes) -> bool:
    """Write ``key`` to a private file beside ``key_file``, then link it into place, so the
    key file appears whole and 0600 or not at all. False when another process was first."""
    draft = key_file.with_name(f".{key_file.name}.{os.urandom(6).hex()}.new")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, KEY_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(draft, key_file)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            draft.unlink()


def _read_key_file(key_file: Path) -> bytes:
    try:
        mode = stat.S_IMODE(key_file.stat().st_mode)
        key = key_file.read_bytes().strip()
    except OSError as exc:
        raise SecretKeyError(
            f"the key file {key_file} cannot be read: {exc.strerror or type(exc).__name__}"
        ) from exc
    if mode & 0o077:
        try:
            key_file.chmod(KEY_FILE_MODE)
        except OSError:
            log.warning("the key file %s can be read by other users (mode %o)", key_file, mode)
        else:
            log.warning(
                "the key file %s could be read by other users (mode %o); it is now 600",
                key_file, mode,
            )  # fmt: skip
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
