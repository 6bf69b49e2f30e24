"""PII crypto: AES-GCM round trips, purpose binding, key rotation, blind index, masking."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from db.crypto import PiiCipher, load_or_create_keyfile, mask_name, mask_phone
from db.errors import DecryptionFailed, InvalidKeyMaterial, UnknownKeyId

OLD_KEY = bytes(range(32))
NEW_KEY = bytes(range(100, 132))
INDEX_KEY = bytes(range(200, 232))


def cipher_with(active: str = "k1") -> PiiCipher:
    keys = {"k1": OLD_KEY} if active == "k1" else {"k1": OLD_KEY, "k2": NEW_KEY}
    return PiiCipher(keys, active, INDEX_KEY)


def test_round_trip_returns_plaintext_and_active_key_id() -> None:
    """Encrypt a Chinese name then decrypt it with the returned key id and the same purpose.

    Expected: the plaintext comes back unchanged, the key id is the active one, the blob is
    nonce (12 bytes) + ciphertext + tag (16 bytes) and does not contain the plaintext.
    """
    cipher = cipher_with()
    blob, key_id = cipher.encrypt("张三丰", purpose="debtor.name")
    assert key_id == "k1"
    assert len(blob) == 12 + len("张三丰".encode()) + 16
    assert "张三丰".encode() not in blob
    assert cipher.decrypt(blob, key_id, purpose="debtor.name") == "张三丰"


def test_same_plaintext_encrypts_differently_each_time() -> None:
    """Encrypt the same phone twice. Expected: different blobs (fresh random nonce)."""
    cipher = cipher_with()
    first, _ = cipher.encrypt("+8613800000001", purpose="debtor.phone")
    second, _ = cipher.encrypt("+8613800000001", purpose="debtor.phone")
    assert first != second
    assert first[:12] != second[:12]


def test_wrong_purpose_fails_to_decrypt() -> None:
    """Encrypt as 'debtor.phone', decrypt as 'debtor.name'. Expected: DecryptionFailed."""
    cipher = cipher_with()
    blob, key_id = cipher.encrypt("+8613800000001", purpose="debtor.phone")
    with pytest.raises(DecryptionFailed):
        cipher.decrypt(blob, key_id, purpose="debtor.name")


def test_tampered_blob_fails_to_decrypt() -> None:
    """Flip one ciphertext bit before decrypting. Expected: DecryptionFailed."""
    cipher = cipher_with()
    blob, key_id = cipher.encrypt("+8613800000001", purpose="debtor.phone")
    tampered = blob[:-1] + bytes([blob[-1] ^ 0x01])
    with pytest.raises(DecryptionFailed):
        cipher.decrypt(tampered, key_id, purpose="debtor.phone")


def test_rotation_keeps_old_blobs_readable_and_encrypts_with_new_key() -> None:
    """Encrypt with k1 active; rotate to a keyring {k1, k2} with k2 active.

    Expected: the old blob still decrypts with key id k1; new encryptions report k2 and
    decrypt; a keyring that dropped k1 raises UnknownKeyId for the old blob.
    """
    old_blob, old_key_id = cipher_with("k1").encrypt("李四", purpose="debtor.name")
    rotated = cipher_with("k2")
    assert rotated.decrypt(old_blob, old_key_id, purpose="debtor.name") == "李四"
    new_blob, new_key_id = rotated.encrypt("李四", purpose="debtor.name")
    assert new_key_id == "k2"
    assert rotated.decrypt(new_blob, new_key_id, purpose="debtor.name") == "李四"
    only_new = PiiCipher({"k2": NEW_KEY}, "k2", INDEX_KEY)
    with pytest.raises(UnknownKeyId):
        only_new.decrypt(old_blob, old_key_id, purpose="debtor.name")


def test_blob_under_one_key_id_does_not_decrypt_under_another() -> None:
    """Decrypt a k1 blob claiming key id k2. Expected: DecryptionFailed, not garbage."""
    cipher = cipher_with("k2")
    blob, _ = PiiCipher({"k1": OLD_KEY}, "k1", INDEX_KEY).encrypt("x", purpose="p")
    with pytest.raises(DecryptionFailed):
        cipher.decrypt(blob, "k2", purpose="p")


def test_blind_index_is_stable_keyed_and_purpose_separated() -> None:
    """Index one number twice, under two purposes, and under another index key.

    Expected: same value+purpose+key -> same 32-byte digest (even across rotation of the
    encryption keys); another purpose or another index key -> a different digest.
    """
    phone = "+8613800000001"
    digest = cipher_with("k1").blind_index(phone, purpose="debtor.phone")
    assert len(digest) == 32
    assert cipher_with("k2").blind_index(phone, purpose="debtor.phone") == digest
    assert cipher_with().blind_index(phone, purpose="debtor.id_number") != digest
    assert cipher_with().blind_index("+8613800000002", purpose="debtor.phone") != digest
    other_index_key = PiiCipher({"k1": OLD_KEY}, "k1", bytes(32))
    assert other_index_key.blind_index(phone, purpose="debtor.phone") != digest


@pytest.mark.parametrize(
    ("keys", "active", "index_key", "message"),
    [
        ({"k1": b"short"}, "k1", INDEX_KEY, "must be 32 bytes, got 5"),
        ({"k1": OLD_KEY}, "k9", INDEX_KEY, "active key id 'k9'"),
        ({"k1": OLD_KEY}, "k1", b"\x00" * 16, "blind index key must be 32 bytes"),
        ({}, "k1", INDEX_KEY, "no encryption keys"),
    ],
)
def test_bad_key_material_is_rejected_with_a_clear_error(
    keys: dict[str, bytes], active: str, index_key: bytes, message: str
) -> None:
    """Build a cipher from malformed keys. Expected: InvalidKeyMaterial naming the problem."""
    with pytest.raises(InvalidKeyMaterial, match=message):
        PiiCipher(keys, active, index_key)


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+8613800000001", "+86138****0001"),
        ("+12125551234", "+1212***1234"),
        ("+447911123456", "+44791***3456"),
        ("+85261234567", "+852******67"),
        ("+6591234567", "+65******67"),
        ("not a phone 12345", "***45"),
        ("", "**"),
    ],
)
def test_mask_phone(e164: str, masked: str) -> None:
    """Mask numbers of several lengths. Expected: country code, first 3 and last 4 national
    digits kept for long numbers; only the last 2 digits for short ones; never raises."""
    assert mask_phone(e164) == masked


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三丰", "张**"),
        ("李四", "李*"),
        ("John Smith", "J*** S****"),
        ("Ann  Lee", "A**  L**"),
        ("X", "*"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    """Mask names. Expected: each word keeps its first character, the rest become '*'."""
    assert mask_name(name) == masked


def test_keyfile_is_created_private_then_loaded_with_the_same_keys(tmp_path: Path) -> None:
    """Create a keyfile in a missing folder, encrypt, then load it again and decrypt.

    Expected: file mode 0600, JSON with one key that is the active one plus an index key;
    the reloaded cipher decrypts the blob and gives the same blind index.
    """
    path = tmp_path / "secrets" / "pii-keys.json"
    first = load_or_create_keyfile(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert list(document["keys"]) == [document["active_key_id"]]
    blob, key_id = first.encrypt("王五", purpose="debtor.name")

    second = load_or_create_keyfile(path)
    assert second.decrypt(blob, key_id, purpose="debtor.name") == "王五"
    assert second.blind_index("1", purpose="p") == first.blind_index("1", purpose="p")
    assert [p.name for p in path.parent.iterdir()] == ["pii-keys.json"]


def test_keyfile_readable_by_others_is_refused(tmp_path: Path) -> None:
    """Loosen a keyfile to 0644 and load it. Expected: InvalidKeyMaterial asking for 600."""
    path = tmp_path / "pii-keys.json"
    load_or_create_keyfile(path)
    os.chmod(path, 0o644)
    with pytest.raises(InvalidKeyMaterial, match="chmod 600"):
        load_or_create_keyfile(path)


def test_malformed_keyfile_is_refused_without_quoting_it(tmp_path: Path) -> None:
    """Load a keyfile whose index key is not base64. Expected: InvalidKeyMaterial whose
    message names the file but not its content."""
    path = tmp_path / "pii-keys.json"
    path.write_text(json.dumps({"active_key_id": "k1", "keys": {}, "index_key": "SECRET!"}))
    os.chmod(path, 0o600)
    with pytest.raises(InvalidKeyMaterial, match="malformed") as caught:
        load_or_create_keyfile(path)
    assert "SECRET" not in str(caught.value)
