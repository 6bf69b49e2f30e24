"""Encryption, blind indexing and masking of personal data (names, phones, ID numbers).

Plaintext lives only in memory: the database holds AES-256-GCM blobs, HMAC blind indexes
for exact-match lookup and dedupe, and masked copies for screens and logs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from db.errors import DecryptionFailed, InvalidKeyMaterial, UnknownKeyId

KEY_BYTES = 32
NONCE_BYTES = 12
KEYFILE_FORMAT = 1

# ITU-T E.164 country codes are prefix-free: 1 and 7 are the only one-digit codes, these
# are the two-digit ones, every other code has three digits.
_ONE_DIGIT_COUNTRY_CODES = frozenset({"1", "7"})
_TWO_DIGIT_COUNTRY_CODES = frozenset(
    {
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
        "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61",
        "62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94",
        "95", "98",
    }
)  # fmt: skip
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Below this many national digits, showing 3 leading + 4 trailing digits would leave
# too few hidden to protect the number.
_MIN_NATIONAL_DIGITS_FOR_PREFIX = 10
_SHA256_BLOCK = 64
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))
_NONCES_PER_DRAW = 4096


class PiiCipher:
    """AES-256-GCM for personal data, with key ids so old keys keep decrypting after rotation.

    `purpose` (e.g. "debtor.phone") is bound into every ciphertext as associated data and
    into every blind index, so a blob or index made for one field is useless for another.
    """

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str, index_key: bytes) -> None:
        if not keys:
            raise InvalidKeyMaterial("no encryption keys given")
        for key_id, key in keys.items():
            if not key_id or not key_id.isprintable() or key_id != key_id.strip():
                raise InvalidKeyMaterial(f"key id {key_id!r} must be non-empty printable text")
            _require_key_length(key, f"encryption key {key_id!r}")
        if active_key_id not in keys:
            raise InvalidKeyMaterial(f"active key id {active_key_id!r} is not among the keys")
        _require_key_length(index_key, "blind index key")
        self._aeads = {key_id: AESGCM(bytes(key)) for key_id, key in keys.items()}
        self._active_key_id = active_key_id
        self._index_key = bytes(index_key)
        # Per purpose: the HMAC inner and outer hash states keyed with the purpose's
        # sub-key, so an index costs two hash copies instead of two key derivations.
        self._index_states: dict[str, tuple[Any, Any]] = {}

    @property
    def active_key_id(self) -> str:
        return self._active_key_id

    def encrypt(self, plaintext: str, *, purpose: str) -> tuple[bytes, str]:
        """Encrypt with the active key; returns (nonce + ciphertext, key id)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        aead = self._aeads[self._active_key_id]
        ciphertext = aead.encrypt(nonce, plaintext.encode("utf-8"), _purpose_bytes(purpose))
        return nonce + ciphertext, self._active_key_id

    def decrypt(self, blob: bytes, key_id: str, *, purpose: str) -> str:
        aead = self._aeads.get(key_id)
        if aead is None:
            raise UnknownKeyId(f"no key with id {key_id!r} in this keyring")
        nonce, ciphertext = bytes(blob[:NONCE_BYTES]), bytes(blob[NONCE_BYTES:])
        try:
            plaintext = aead.decrypt(nonce, ciphertext, _purpose_bytes(purpose))
        except InvalidTag:
            raise DecryptionFailed(
                f"blob does not decrypt with key {key_id!r} for purpose {purpose!r}"
            ) from None
        return plaintext.decode("utf-8")

    def blind_index(self, normalized: str, *, purpose: str) -> bytes:
        """Deterministic keyed digest of an already-normalised value, for equality lookup."""
        return self.indexer(purpose)(normalized)

    def indexer(self, purpose: str) -> Callable[[str], bytes]:
        """`blind_index` for one purpose as a function: the same digests, made faster for
        bulk use (HMAC-SHA256 from precomputed inner/outer states)."""
        states = self._index_states.get(purpose)
        if states is None:
            # A sub-key per purpose keeps the same phone number unlinkable across fields.
            label = b"huilong.blind-index:" + _purpose_bytes(purpose)
            purpose_key = hmac.digest(self._index_key, label, "sha256")
            states = (
                hashlib.sha256(purpose_key.ljust(_SHA256_BLOCK, b"\0").translate(_IPAD)),
                hashlib.sha256(purpose_key.ljust(_SHA256_BLOCK, b"\0").translate(_OPAD)),
            )
            self._index_states[purpose] = states
        inner_state, outer_state = states

        def index(normalized: str) -> bytes:
            inner = inner_state.copy()
            inner.update(normalized.encode("utf-8"))
            outer = outer_state.copy()
            outer.update(inner.digest())
            digest: bytes = outer.digest()
            return digest

        return index

    def encryptor(self, purpose: str) -> Callable[[str], bytes]:
        """`encrypt` for one purpose with the active key as a function returning the blob
        only (the key id is `active_key_id`); nonces are drawn from the OS in bulk."""
        aad = _purpose_bytes(purpose)
        encrypt = self._aeads[self._active_key_id].encrypt
        pool = b""
        offset = 0

        def encrypt_one(plaintext: str) -> bytes:
            nonlocal pool, offset
            if offset >= len(pool):
                pool, offset = secrets.token_bytes(NONCE_BYTES * _NONCES_PER_DRAW), 0
            nonce = pool[offset : offset + NONCE_BYTES]
            offset += NONCE_BYTES
            return nonce + encrypt(nonce, plaintext.encode("utf-8"), aad)

        return encrypt_one


def mask_phone(e164: str) -> str:
    """'+8613800000001' -> '+86138****0001'; never raises, never returns the whole number."""
    if not _E164.match(e164):
        digits = "".join(ch for ch in e164 if ch.isdigit())
        return "*" * max(len(digits) - 2, 2) + digits[-2:] if len(digits) > 2 else "**"
    digits = e164[1:]
    country = _country_code(digits)
    national = digits[len(country) :]
    if len(national) >= _MIN_NATIONAL_DIGITS_FOR_PREFIX:
        hidden = len(national) - 7
        return f"+{country}{national[:3]}{'*' * hidden}{national[-4:]}"
    return f"+{country}{'*' * (len(national) - 2)}{national[-2:]}"


def mask_name(name: str) -> str:
    """'张三丰' -> '张**', 'John Smith' -> 'J*** S****': each word keeps its first letter."""
    return re.sub(r"\S+", _mask_word, name)


def load_or_create_keyfile(path: Path) -> PiiCipher:
    """Load the keyring at `path`, creating it (mode 0600, fresh random keys) if absent."""
    if not path.exists():
        _create_keyfile(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidKeyMaterial(
            f"keyfile {path} is accessible by group or others (mode {mode:04o}); chmod 600 it"
        )
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        keys = {key_id: _b64(value) for key_id, value in document["keys"].items()}
        active_key_id = document["active_key_id"]
        index_key = _b64(document["index_key"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # The exception text could quote key material, so only its type is reported.
        raise InvalidKeyMaterial(f"keyfile {path} is malformed ({type(exc).__name__})") from None
    return PiiCipher(keys, active_key_id, index_key)


def _create_keyfile(path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_id = f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
    document = {
        "format": KEYFILE_FORMAT,
        "active_key_id": key_id,
        "keys": {key_id: _b64encode(secrets.token_bytes(KEY_BYTES))},
        "index_key": _b64encode(secrets.token_bytes(KEY_BYTES)),
    }
    # link() never replaces an existing file: if another process created the keyfile
    # first, its keys win and ours are discarded, so no data is encrypted with a loser.
    _write_keyfile(path, document, replace=False)


def _write_keyfile(path: Path, document: dict[str, Any], *, replace: bool) -> None:
    """Write the keyring through a 0600 staging file, fsynced, then put it in place:
    `replace` swaps it in atomically; otherwise it is linked only if `path` is absent."""
    staging = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(staging, path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(staging, path)
    finally:
        staging.unlink(missing_ok=True)


def _mask_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if len(word) == 1:
        return "*"
    return word[0] + "*" * (len(word) - 1)


def _country_code(digits: str) -> str:
    if digits[:1] in _ONE_DIGIT_COUNTRY_CODES:
        return digits[:1]
    if digits[:2] in _TWO_DIGIT_COUNTRY_CODES:
        return digits[:2]
    return digits[:3]


def _require_key_length(key: bytes, what: str) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        length = len(key) if isinstance(key, bytes | bytearray) else type(key).__name__
        raise InvalidKeyMaterial(f"{what} must be {KEY_BYTES} bytes, got {length}")


def _purpose_bytes(purpose: str) -> bytes:
    if not purpose:
        raise ValueError("purpose must name the field, e.g. 'debtor.phone'")
    return purpose.encode("utf-8")


def _b64(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def add_active_key(path: Path) -> str:
    """Add a fresh random key to the keyring at `path`, make it active, keep the old ones.

    Returns the new key id. The file is replaced atomically (mode 0600); values encrypted
    under older keys still decrypt until `db.pii.rotate_keys` re-encrypts them. One writer
    at a time: run it from the operator's CLI, not from several processes at once.
    """
    load_or_create_keyfile(path)  # refuses a malformed or group-readable keyfile
    document = json.loads(path.read_text(encoding="utf-8"))
    key_id = f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
    while key_id in document["keys"]:
        key_id = f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
    document["keys"][key_id] = _b64encode(secrets.token_bytes(KEY_BYTES))
    document["active_key_id"] = key_id
    document.setdefault("format", KEYFILE_FORMAT)
    _write_keyfile(path, document, replace=True)
    return key_id
