"""The passphrase secrets format, checked against the Pulumi CLI's own vectors and against
pulumi-crypto, an independent implementation (pycryptodomex, not `cryptography`).

PBKDF2 runs at the CLI's real 1,000,000 iterations: each distinct (passphrase, salt) costs
~0.15 s here and ~0.5 s in the oracle, so the tests share a few of them; the property
test uses a raw key and no derivation.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pulumi_crypto
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi_vectors import (
    MANAGER_PASSPHRASE,
    MANAGER_SALT,
    MANAGER_WRONG_PASSPHRASE,
    ROUNDTRIP_PASSPHRASE,
    ROUNDTRIP_PLAINTEXT,
    ROUNDTRIP_SALT,
    ROUNDTRIP_SECRET,
)

from local.secrets import (
    PBKDF2_ITERATIONS,
    CiphertextError,
    Crypter,
    IncorrectPassphraseError,
    SecretsError,
    read_passphrase,
)

PASSPHRASE = "correct horse battery staple"
KEY = bytes(range(32))  # a fixed raw key: no PBKDF2 for the property tests


@pytest.fixture(scope="module")
def oracle() -> pulumi_crypto.PassphraseCipher:
    """pulumi-crypto opened on the CLI-written salt (one oracle derivation for the module)."""
    return pulumi_crypto.PassphraseCipher(ROUNDTRIP_PASSPHRASE, salt_state=ROUNDTRIP_SALT)


def test_the_clis_own_ciphertext_decrypts_at_the_real_iteration_count():
    # GIVEN a stack file's salt and secret that the Pulumi CLI wrote (pulumi/pulumi's tests)
    # WHEN opened with its passphrase
    crypter = Crypter.from_state(ROUNDTRIP_PASSPHRASE, ROUNDTRIP_SALT)

    # THEN the verifier and the value decrypt: GCM authenticates them, so any other key
    # derivation (iterations, hash, salt decoding) would have failed here
    assert crypter.decrypt(ROUNDTRIP_SECRET) == ROUNDTRIP_PLAINTEXT
    assert PBKDF2_ITERATIONS == 1_000_000


def test_the_clis_wrong_passphrase_vector_is_refused_and_the_right_one_accepted():
    # GIVEN the passphrase state of pulumi/pulumi's manager tests
    # WHEN opened with the wrong passphrase THEN it is refused, saying only that
    with pytest.raises(IncorrectPassphraseError) as caught:
        Crypter.from_state(MANAGER_WRONG_PASSPHRASE, MANAGER_SALT)
    assert str(caught.value) == "incorrect passphrase"
    # AND the right one opens it
    Crypter.from_state(MANAGER_PASSPHRASE, MANAGER_SALT)


def test_oracle_reads_the_clis_vector_as_we_do(oracle):
    # GIVEN the same CLI-written secret  WHEN the independent implementation decrypts it
    # THEN it reads what we read
    assert oracle.decrypt(ROUNDTRIP_SECRET) == ROUNDTRIP_PLAINTEXT


def test_values_the_oracle_encrypts_we_decrypt_and_back(oracle):
    # GIVEN the stack key, opened by both  WHEN either encrypts
    ours = Crypter.from_state(ROUNDTRIP_PASSPHRASE, oracle.salt_state)
    for text in ("s3cret", "", "ünïcødé ✓ 😀", "line\nbreak", '{"json": [1, 2]}'):
        # THEN what it encrypts we decrypt, and what we encrypt it decrypts
        assert ours.decrypt(oracle.encrypt(text)) == text
        assert oracle.decrypt(ours.encrypt(text)) == text


def test_a_salt_state_we_create_opens_in_the_oracle():
    # GIVEN a new stack key of ours
    ours, state = Crypter.create(PASSPHRASE)

    # THEN it has the CLI's shape: v1, an 8-byte salt, the encrypted verifier
    version, salt, verifier = state.split(":", 2)
    assert version == "v1"
    assert len(base64.b64decode(salt, validate=True)) == 8
    assert verifier.startswith("v1:")
    # AND the oracle accepts the passphrase against it and reads our values
    cipher = pulumi_crypto.PassphraseCipher(PASSPHRASE, salt_state=state)
    assert cipher.decrypt(ours.encrypt("from us")) == "from us"
    # AND a second stack gets another salt
    assert Crypter.create(PASSPHRASE)[1].split(":")[1] != salt


@settings(max_examples=25, deadline=None)
@given(st.text())
def test_any_text_round_trips_with_the_oracle_under_a_raw_key(text: str):
    # GIVEN any text and one raw key  THEN each side decrypts what the other encrypted
    ours = Crypter(KEY)
    assert pulumi_crypto.decrypt_string(ours.encrypt(text), KEY) == text
    assert ours.decrypt(pulumi_crypto.encrypt_string(text, KEY)) == text


def test_each_encryption_has_its_own_nonce():
    ours = Crypter(KEY)
    first, second = ours.encrypt("same"), ours.encrypt("same")
    assert first != second
    assert len(base64.b64decode(first.split(":")[1])) == 12


def _flip(part: str, index: int) -> str:
    raw = bytearray(base64.b64decode(part))
    raw[index] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("where", ["body", "tag", "nonce"])
def test_a_changed_ciphertext_fails_authentication(where: str):
    # GIVEN a value encrypted under the key
    ours = Crypter(KEY)
    version, nonce, sealed = ours.encrypt("pay me").split(":")
    # WHEN one bit of it changes
    if where == "nonce":
        nonce = _flip(nonce, 0)
    else:
        sealed = _flip(sealed, 0 if where == "body" else -1)
    # THEN GCM refuses it
    with pytest.raises(CiphertextError, match="authentication failed"):
        ours.decrypt(f"{version}:{nonce}:{sealed}")


def test_a_value_under_another_key_fails_authentication():
    sealed = Crypter(bytes(32)).encrypt("elsewhere")
    with pytest.raises(CiphertextError, match="another stack's key"):
        Crypter(KEY).decrypt(sealed)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("v1:abc", "expected v1:<nonce>:<ciphertext>"),
        ("v2:AAAAAAAAAAAAAAAA:AAAA", "unknown value version"),
        ("v1:not base64!:AAAA", "not standard base64"),
        ("v1:AAAA:AAAAAAAAAAAAAAAAAAAAAA==", "nonce size is incorrect"),
        ("v1:AAAAAAAAAAAAAAAA:AAAA", "authentication failed"),
    ],
)
def test_malformed_values_are_named_not_echoed(value: str, message: str):
    with pytest.raises(CiphertextError, match=message) as caught:
        Crypter(KEY).decrypt(value)
    assert value not in str(caught.value)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("v1:only-two", "malformed encryptionsalt"),
        ("v0:AAAAAAAAAAA=:v1:AAAAAAAAAAAAAAAA:AAAA", "unknown encryptionsalt version"),
        ("v1:***:v1:AAAAAAAAAAAAAAAA:AAAA", "salt is not base64"),
    ],
)
def test_malformed_salt_states_are_refused_before_any_derivation(state: str, message: str):
    with pytest.raises(SecretsError, match=message):
        Crypter.from_state(PASSPHRASE, state)


def test_the_passphrase_comes_from_the_variable_even_empty_then_from_the_file(tmp_path: Path):
    phrase_file = tmp_path / "phrase"
    phrase_file.write_text("  from the file \n")
    both = {"PULUMI_CONFIG_PASSPHRASE_FILE": str(phrase_file)}
    # The variable wins, even set to "" (the CLI accepts an empty passphrase)
    assert read_passphrase({**both, "PULUMI_CONFIG_PASSPHRASE": ""}) == ""
    assert read_passphrase({**both, "PULUMI_CONFIG_PASSPHRASE": "env"}) == "env"
    # Else the file, trimmed; an empty file variable counts as unset
    assert read_passphrase(both) == "from the file"
    assert read_passphrase({"PULUMI_CONFIG_PASSPHRASE_FILE": ""}) is None
    assert read_passphrase({}) is None


def test_an_unreadable_passphrase_file_names_the_variable_and_file(tmp_path: Path):
    missing = tmp_path / "nowhere"
    with pytest.raises(SecretsError, match="PULUMI_CONFIG_PASSPHRASE_FILE") as caught:
        read_passphrase({"PULUMI_CONFIG_PASSPHRASE_FILE": str(missing)})
    assert str(missing) in str(caught.value)

    binary = tmp_path / "binary"
    binary.write_bytes(b"\xffsecret-bytes\xfe")
    with pytest.raises(SecretsError, match="not UTF-8") as caught:
        read_passphrase({"PULUMI_CONFIG_PASSPHRASE_FILE": str(binary)})
    assert caught.value.__context__ is None  # the decode error (holding the bytes) is not kept


def test_a_plaintext_that_is_not_text_is_refused_without_keeping_its_bytes():
    # GIVEN a value whose plaintext bytes are not UTF-8 (the CLI only writes text)
    nonce = os.urandom(12)
    sealed = AESGCM(KEY).encrypt(nonce, b"\xffpay\xfe", None)
    value = f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"
    # WHEN decrypted THEN refused, and no exception in the chain holds the bytes
    with pytest.raises(CiphertextError, match="not UTF-8") as caught:
        Crypter(KEY).decrypt(value)
    assert caught.value.__context__ is None


def test_the_crypter_never_shows_its_key():
    assert repr(Crypter(KEY)) == "Crypter(<key hidden>)"
