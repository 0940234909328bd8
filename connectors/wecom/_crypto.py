"""WeCom callback crypto: signature, freshness, AES decryption and corp id, refused before parsing.

The AES step is wechatpy's enterprise ``PrpCrypto``; around it this module adds what
wechatpy leaves out: a constant-time signature comparison, a timestamp window, strict
base64, size limits, and one error type for every way a request can be bad.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
import time
from collections.abc import Callable

from wechatpy.enterprise.crypto import PrpCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException

from copilot.errors import InputError

__all__ = ["MAX_BODY_BYTES", "MAX_SKEW_S", "WeComCrypto", "WeComRequestError", "signature"]

MAX_SKEW_S = 300
MAX_BODY_BYTES = 64 * 1024  # a WeCom callback is a few KB; anything larger is refused unread
_MAX_ENCRYPT_CHARS = 48 * 1024
_MAX_PARAM_CHARS = 128


class WeComRequestError(InputError):
    """A callback request that is not from WeCom, or not readable; ``status`` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """WeCom's msg_signature: SHA-1 over the four strings sorted and joined."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode("utf-8")).hexdigest()


class WeComCrypto:
    """Verifies and decrypts callbacks for one corp (token, EncodingAESKey, corp id)."""

    def __init__(
        self, token: str, aes_key: str, corp_id: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        try:
            key = base64.b64decode(aes_key + "=", validate=True)
        except binascii.Error:
            key = b""
        if len(aes_key) != 43 or len(key) != 32:
            message = (
                "COPILOT_WECOM_AES_KEY must be the app's 43-character EncodingAESKey "
                "(WeCom admin → the app → 接收消息 → API 接收)"
            )
            raise ValueError(message)
        self._token = token
        self._key = key
        self.corp_id = corp_id
        self._clock = clock

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """The URL-verification GET: the decrypted echostr to answer with."""
        self._check(msg_signature, timestamp, nonce, echostr)
        return self._decrypt(echostr)

    def decrypt(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> str:
        """An encrypted POST's ``Encrypt`` field: the inner XML (still untrusted)."""
        self._check(msg_signature, timestamp, nonce, encrypt)
        return self._decrypt(encrypt)

    def _check(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        for name, value in (("msg_signature", msg_signature), ("timestamp", timestamp), ("nonce", nonce)):
            if not value or len(value) > _MAX_PARAM_CHARS or not value.isascii():
                raise WeComRequestError(f"query parameter {name} is missing or malformed")
        if not encrypt or len(encrypt) > _MAX_ENCRYPT_CHARS:
            raise WeComRequestError("the encrypted payload is missing or too large")
        expected = signature(self._token, timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected, msg_signature.lower()):
            raise WeComRequestError("msg_signature does not match: check COPILOT_WECOM_TOKEN", 403)
        if not timestamp.isdigit() or abs(self._clock() - int(timestamp)) > MAX_SKEW_S:
            raise WeComRequestError(f"timestamp {timestamp[:20]!r} is more than {MAX_SKEW_S} s from now", 403)

    def _decrypt(self, encrypt: str) -> str:
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError):
            raise WeComRequestError("the encrypted payload is not valid base64") from None
        if not raw or len(raw) % 32:
            raise WeComRequestError("the encrypted payload is not a whole number of AES blocks")
        try:
            text = PrpCrypto(self._key).decrypt(encrypt, self.corp_id)
        except (InvalidCorpIdException, InvalidSignatureException):
            raise WeComRequestError("the payload was encrypted for another corp id", 403) from None
        except (ValueError, UnicodeDecodeError, struct.error, IndexError, TypeError):
            raise WeComRequestError("the encrypted payload does not decrypt to a WeCom message") from None
        if not isinstance(text, str):
            raise WeComRequestError("the encrypted payload does not decrypt to text")
        return text
