"""ARI errors, translated from asyncari/httpx at the adapter boundary."""


class AriError(Exception):
    """Root of the ARI adapter's errors."""


class AriUnavailable(AriError):
    """Asterisk could not be reached or did not answer in time (the request may or may
    not have been carried out: only retry what is idempotent)."""


class ChannelGone(AriError):
    """404: the channel no longer exists."""


class DuplicateChannelId(AriError):
    """409: a channel with this id exists already (an earlier originate went through)."""


class AriRejected(AriError):
    """Asterisk refused the request (4xx other than 404/409); the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"ARI {status}: {message}")
        self.status = status
