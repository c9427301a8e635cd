"""The Pulumi CLI's passphrase secrets provider: one stack file serves `pulumi up` and `make up`.

The format (docs/design.md, 'The local cloud'), as the CLI writes it:

- `encryptionsalt: v1:<salt>:<verifier>`: an 8-byte random salt in standard base64, then the
  word `pulumi` encrypted under the stack's key. Decrypting the verifier is how a passphrase is
  known right or wrong before any value is touched.
- The key: PBKDF2-HMAC-SHA256 of the passphrase (UTF-8) and the salt, 1,000,000 iterations,
  32 bytes (AES-256).
- Each value: `v1:<nonce>:<ciphertext>`, AES-256-GCM with a random 12-byte nonce, the 16-byte
  tag appended to the ciphertext, both parts in standard base64, no associated data. The
  plaintext is the value's text itself (not JSON).
- The passphrase: `PULUMI_CONFIG_PASSPHRASE` when set (even empty), else the contents of the
  file named by `PULUMI_CONFIG_PASSPHRASE_FILE`, surrounding whitespace trimmed.

No error raised here carries a passphrase, a key or a plaintext.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

# Fixed by the Pulumi CLI's format: changing any of them makes files the CLI cannot read.
PBKDF2_ITERATIONS = 1_000_000
KEY_BYTES = 32
SALT_BYTES = 8
NONCE_BYTES = 12
VERSION = "v1"
VERIFIER = "pulumi"

PASSPHRASE_VAR = "PULUMI_CONFIG_PASSPHRASE"
PASSPHRASE_FILE_VAR = "PULUMI_CONFIG_PASSPHRASE_FILE"


class SecretsError(ValueError):
    """A passphrase, salt or ciphertext that cannot be used; the message never holds a secret."""


class IncorrectPassphraseError(SecretsError):
    """The passphrase does not decrypt the stack's verifier."""


class CiphertextError(SecretsError):
    """A `secure:` value that is malformed or fails GCM authentication (changed, or another key)."""


def read_passphrase(environ: Mapping[str, str] | None = None) -> str | None:
    """The passphrase as the CLI finds it, or None when neither variable is set."""
    env = os.environ if environ is None else environ
    if PASSPHRASE_VAR in env:
        return env[PASSPHRASE_VAR]
    file_name = env.get(PASSPHRASE_FILE_VAR, "")
    if not file_name:
        return None
    path = Path(file_name).absolute()
    reason = "not UTF-8 text"
    try:
        return path.read_bytes().decode("utf-8").strip()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    except UnicodeDecodeError:
        pass
    # Raised outside the handler: a decode error's context would carry the file's bytes.
    raise SecretsError(f"unable to read {PASSPHRASE_FILE_VAR} {path}: {reason}")


@functools.lru_cache(maxsize=16)
def _derive_key(passphrase: str, salt: bytes) -> bytes:
    """PBKDF2 takes ~0.1-0.5 s by design; one derivation per (passphrase, salt) per process."""
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, iterations=PBKDF2_ITERATIONS
    )
    return kdf.derive(passphrase.encode("utf-8"))


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CiphertextError(f"bad value: {what} is not standard base64") from None


class Crypter:
    """Encrypts and decrypts values under one stack's key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SecretsError(f"AES-256-GCM needs a {KEY_BYTES}-byte key, got {len(key)} bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "Crypter(<key hidden>)"

    @classmethod
    def from_state(cls, passphrase: str, state: str) -> Crypter:
        """The crypter of a stack whose `encryptionsalt` is `state`, if `passphrase` is its own."""
        parts = state.split(":", 2)
        if len(parts) != 3:
            raise SecretsError("malformed encryptionsalt: expected v1:<salt>:<verifier>")
        if parts[0] != VERSION:
            raise SecretsError(f"unknown encryptionsalt version {parts[0]!r} (only v1 is known)")
        try:
            salt = base64.b64decode(parts[1], validate=True)
        except (binascii.Error, ValueError):
            raise SecretsError("malformed encryptionsalt: its salt is not base64") from None
        crypter = cls(_derive_key(passphrase, salt))
        try:
            verified = crypter.decrypt(parts[2]) == VERIFIER
        except CiphertextError:
            verified = False
        if not verified:
            raise IncorrectPassphraseError("incorrect passphrase")
        return crypter

    @classmethod
    def create(cls, passphrase: str) -> tuple[Crypter, str]:
        """A new key from a fresh random salt, and the `encryptionsalt` that records it."""
        salt = os.urandom(SALT_BYTES)
        crypter = cls(_derive_key(passphrase, salt))
        salt_text = base64.b64encode(salt).decode("ascii")
        return crypter, f"{VERSION}:{salt_text}:{crypter.encrypt(VERIFIER)}"

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), None)
        return f"{VERSION}:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"

    def decrypt(self, ciphertext: str) -> str:
        parts = ciphertext.split(":")
        if len(parts) != 3:
            raise CiphertextError("bad value: expected v1:<nonce>:<ciphertext>")
        if parts[0] != VERSION:
            raise CiphertextError(f"unknown value version {parts[0]!r} (only v1 is known)")
        nonce = _b64(parts[1], "the nonce")
        sealed = _b64(parts[2], "the ciphertext")
        if len(nonce) != NONCE_BYTES:
            raise CiphertextError("bad value: nonce size is incorrect")
        try:
            plain = self._aead.decrypt(nonce, sealed, None)
        except InvalidTag:
            raise CiphertextError(
                "message authentication failed: the value was changed, "
                "or encrypted under another stack's key"
            ) from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            pass
        # Raised outside the handler: the decode error's context holds the plaintext bytes.
        raise CiphertextError("the decrypted value is not UTF-8 text")
