"""Errors raised by the `db` package; callers catch `DbError` to handle them all."""

from __future__ import annotations


class DbError(Exception):
    """Root of every error the `db` package raises on purpose."""


class DatabaseUnavailable(DbError):
    """PostgreSQL could not be reached, or the connection broke mid-operation."""


class MigrationError(DbError):
    """The migrations on disk and the ones recorded in the database disagree."""


class IntegrityViolation(DbError):
    """A write broke a constraint (unique key, foreign key, check)."""


class AttemptNotFound(DbError):
    """No attempt row has the given id."""


class PhoneNotFound(DbError):
    """No debtor phone row has the given id."""


class CampaignNotFound(DbError):
    """No campaign row has the given id."""


class PiiCryptoError(DbError):
    """Root of the errors about encrypting, decrypting or indexing personal data."""


class InvalidKeyMaterial(PiiCryptoError, ValueError):
    """A key, key id or keyfile is malformed (wrong length, missing, unsafe mode)."""


class UnknownKeyId(PiiCryptoError):
    """A blob names a key id this cipher does not hold (rotated out, or a foreign keyfile)."""


class DecryptionFailed(PiiCryptoError):
    """The blob was tampered with, or the key or the purpose does not match."""
