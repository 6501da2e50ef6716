"""E-mail over SMTP (stdlib `smtplib`): text + HTML parts, stable Message-ID, RFC 8058, DKIM.

Configuration (all keys but ``host`` and ``from`` optional)::

    type: smtp
    host: smtp.example.net
    port: 587                       # default: 465 for ssl, 587 for starttls, 25 for none
    security: starttls              # starttls | ssl | none
    username_env: SMTP_USERNAME     # names of environment variables, never the secrets
    password_env: SMTP_PASSWORD
    from: "Shop <news@shop.example>"
    reply_to: "care@shop.example"
    message_id_domain: shop.example # default: the From address's domain
    unsubscribe_url: https://shop.example/unsubscribe   # ?token=<signed token> is appended
    unsubscribe_mailto: unsubscribe@shop.example
    unsubscribe_secret_env: SEGMENTUM_UNSUBSCRIBE_SECRET
    dkim: {domain: shop.example, selector: s2026, private_key_path: /etc/dkim.pem}
    timeout: 30

The Message-ID is derived from the idempotency key (``<sha256(key)[:32]@domain>``): a message
resent after a crash carries the same Message-ID, so mail systems and people can recognise the
duplicate (delivery is at-least-once). Replies 4xx and connection problems are
``temporary_failure``; 5xx replies are ``permanent_failure``, except authentication failures
(a configuration problem, not the recipient's), which are temporary.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dkim  # type: ignore[import-untyped]

from segmentum.campaigns.channels.base import (
    ChannelConfigError,
    OutgoingMessage,
    SendResult,
    SendStatus,
    env_secret,
)
from segmentum.campaigns.channels.unsubscribe import (
    UnsubscribeRequest,
    unsubscribe_token,
    verify_unsubscribe_token,
)

__all__ = [
    "SmtpChannel",
    "UnsubscribeRequest",
    "message_id_for",
    "unsubscribe_token",
    "verify_unsubscribe_token",
]

#: SMTP's policy (CRLF, 78-column folding of parsed headers) that writes a header set with
#: ``set_raw`` as given instead of re-encoding a long one as RFC 2047 encoded words.
_WIRE = SMTP.clone(refold_source="none")
#: Headers the channel writes itself; message.headers cannot replace them.
_OWN_HEADERS = frozenset(
    {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}
)
_DKIM_HEADERS = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
]


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The stable Message-ID of the message with this idempotency key."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def _classify(code: int, text: str) -> SendResult:
    status: SendStatus = "temporary_failure" if 400 <= code < 500 else "permanent_failure"
    return SendResult(status, error=f"SMTP {code} {text}".strip())


def _reply_text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


class SmtpChannel:
    name = "smtp"

    def __init__(
        self,
        config: Mapping[str, Any],
        environ: Mapping[str, str] | None = None,
        now: Callable[[], datetime] | None = None,
    ):
        if not config.get("host"):
            raise ChannelConfigError("smtp: 'host' is required")
        if not config.get("from"):
            raise ChannelConfigError("smtp: 'from' is required")
        self.host = str(config["host"])
        self.security = str(config.get("security", "starttls"))
        if self.security not in ("starttls", "ssl", "none"):
            raise ChannelConfigError("smtp: security must be starttls, ssl or none")
        default_port = {"ssl": 465, "starttls": 587, "none": 25}[self.security]
        self.port = int(config.get("port", default_port))
        self.timeout = float(config.get("timeout", 30))
        self.sender = str(config["from"])
        self.envelope_from = parseaddr(self.sender)[1]
        if "@" not in self.envelope_from:
            raise ChannelConfigError(f"smtp: 'from' has no address: {self.sender!r}")
        self.reply_to = config.get("reply_to")
        self.domain = str(config.get("message_id_domain") or self.envelope_from.split("@")[1])
        self.username = env_secret(config, "username_env", environ)
        self._password = env_secret(config, "password_env", environ)
        self.unsubscribe_url = config.get("unsubscribe_url")
        self.unsubscribe_mailto = config.get("unsubscribe_mailto")
        self._unsubscribe_secret = env_secret(config, "unsubscribe_secret_env", environ)
        if self.unsubscribe_url and not str(self.unsubscribe_url).startswith("https://"):
            raise ChannelConfigError("smtp: unsubscribe_url must be an https URL")
        self._dkim = self._load_dkim(config.get("dkim"), environ)
        self._now = now or (lambda: datetime.now(UTC))
        self._connection: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _load_dkim(
        config: Mapping[str, Any] | None, environ: Mapping[str, str] | None
    ) -> tuple[bytes, bytes, bytes] | None:
        if not config:
            return None
        if not config.get("domain") or not config.get("selector"):
            raise ChannelConfigError("smtp.dkim: 'domain' and 'selector' are required")
        key: str | None = env_secret(config, "private_key_env", environ)
        if key is None and config.get("private_key_path"):
            key = Path(str(config["private_key_path"])).read_text(encoding="ascii")
        if not key:
            raise ChannelConfigError("smtp.dkim: private_key_path or private_key_env is required")
        return (
            str(config["selector"]).encode("ascii"),
            str(config["domain"]).encode("ascii"),
            key.encode("ascii"),
        )

    # --- building ---------------------------------------------------------------------------

    def _list_unsubscribe(self, message: OutgoingMessage) -> str | None:
        given = {key.lower(): value for key, value in message.headers.items()}
        if "list-unsubscribe" in given:
            return given["list-unsubscribe"]
        targets: list[str] = []
        customer_id = message.metadata.get("customer_id")
        if self.unsubscribe_url and self._unsubscribe_secret and customer_id:
            token = unsubscribe_token(
                self._unsubscribe_secret,
                customer_id,
                message.channel,
                message.metadata.get("campaign_id"),
            )
            separator = "&" if "?" in str(self.unsubscribe_url) else "?"
            targets.append(f"<{self.unsubscribe_url}{separator}token={quote(token)}>")
        if self.unsubscribe_mailto:
            subject = quote(f"unsubscribe {customer_id}") if customer_id else "unsubscribe"
            targets.append(f"<mailto:{self.unsubscribe_mailto}?subject={subject}>")
        return ", ".join(targets) or None

    def build(self, message: OutgoingMessage) -> EmailMessage:
        """The MIME message (without DKIM), exactly as it will be sent."""
        email = EmailMessage(policy=_WIRE)
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject or ""
        email["Date"] = format_datetime(self._now())
        email["Message-ID"] = message_id_for(message.idempotency_key, self.domain)
        if self.reply_to:
            email["Reply-To"] = str(self.reply_to)
        unsubscribe = self._list_unsubscribe(message)
        if unsubscribe:
            # As written (RFC 2369 / 8058: angle-bracketed URIs, which RFC 2047 encoded words
            # must not wrap): one URI per line, never re-encoded (``_WIRE`` does not refold
            # raw headers; a URI line stays far under SMTP's 998 octets).
            if "\r" in unsubscribe or "\n" in unsubscribe:  # a raw header: no injected lines
                raise ValueError("List-Unsubscribe must be one line")
            email.set_raw("List-Unsubscribe", ",\r\n ".join(unsubscribe.split(", ")))
            if "https://" in unsubscribe:
                email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        for key, value in message.headers.items():
            lowered = key.lower()
            if lowered in _OWN_HEADERS or lowered.startswith("list-unsubscribe"):
                continue
            email[key] = value
        email.set_content(message.body, subtype="plain", charset="utf-8", cte="quoted-printable")
        if message.html is not None:
            email.add_alternative(
                message.html, subtype="html", charset="utf-8", cte="quoted-printable"
            )
        return email

    def to_bytes(self, message: OutgoingMessage) -> bytes:
        """The wire form (CRLF line ends), DKIM-signed when a key is configured."""
        data = self.build(message).as_bytes(policy=_WIRE)
        if self._dkim is None:
            return data
        selector, domain, key = self._dkim
        signature = dkim.sign(data, selector, domain, key, include_headers=_DKIM_HEADERS)
        return bytes(signature) + data

    # --- sending ----------------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        connection: smtplib.SMTP
        if self.security == "ssl":
            connection = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.security == "starttls":
                connection.starttls(context=ssl.create_default_context())
            if self.username is not None and self._password is not None:
                connection.login(self.username, self._password)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    def send(self, message: OutgoingMessage) -> SendResult:
        if not isinstance(message.to, str) or not message.to.strip():
            return SendResult("permanent_failure", error="invalid message: no address")
        try:
            Address(addr_spec=message.to)
            data = self.to_bytes(message)
        except (ValueError, TypeError, IndexError) as error:
            return SendResult("permanent_failure", error=f"invalid message: {error}")
        message_id = message_id_for(message.idempotency_key, self.domain)
        with self._lock:
            try:
                refused = self._connect().sendmail(self.envelope_from, [message.to], data)
            except smtplib.SMTPAuthenticationError as error:
                self._drop()
                return SendResult(
                    "temporary_failure", error=f"SMTP authentication failed ({error.smtp_code})"
                )
            except smtplib.SMTPRecipientsRefused as error:
                code, text = next(iter(error.recipients.values()))
                return _classify(code, _reply_text(text))
            except smtplib.SMTPResponseException as error:
                if error.smtp_code >= 400:
                    self._reset()
                return _classify(error.smtp_code, _reply_text(error.smtp_error))
            except (smtplib.SMTPException, OSError) as error:
                self._drop()
                return SendResult("temporary_failure", error=f"SMTP connection: {error}")
        if refused:
            code, text = next(iter(refused.values()))
            return _classify(code, _reply_text(text))
        return SendResult("sent", provider_message_id=message_id)

    def _reset(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def close(self) -> None:
        with self._lock:
            self._drop()
