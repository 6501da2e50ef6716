"""The SMTP channel against a local aiosmtpd server: headers, parts, DKIM, failures."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import unquote

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from segmentum.campaigns.channels import OutgoingMessage, channel_from_config
from segmentum.campaigns.channels.base import ChannelConfigError
from segmentum.campaigns.channels.smtp import (
    SmtpChannel,
    message_id_for,
    unsubscribe_token,
    verify_unsubscribe_token,
)
from tests.campaigns.conftest import SMTP_PASSWORD, SMTP_USER, SmtpServer

SECRET = "workspace-secret"
NOW = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
ENV = {"SMTP_U": SMTP_USER, "SMTP_P": SMTP_PASSWORD, "UNSUB": SECRET}


def config(server: SmtpServer, **extra: object) -> dict[str, object]:
    return {
        "type": "smtp",
        "host": server.host,
        "port": server.port,
        "security": "none",
        "from": "Shop <news@shop.example>",
        "username_env": "SMTP_U",
        "password_env": "SMTP_P",
        "unsubscribe_url": "https://shop.example/unsubscribe",
        "unsubscribe_mailto": "unsubscribe@shop.example",
        "unsubscribe_secret_env": "UNSUB",
        **extra,
    }


def email(**changes: object) -> OutgoingMessage:
    values: dict[str, object] = {
        "idempotency_key": "camp-1:cust-7:email",
        "channel": "email",
        "to": "jana@example.cz",
        "subject": "Весенняя распродажа — jaro 2026",
        "body": "Ahoj Jano,\nсейчас −20 %.\n",
        "html": "<p>Ahoj <b>Jano</b>, сейчас −20 %.</p>\n",
        "metadata": {"customer_id": "cust-7", "campaign_id": "camp-1"},
    }
    values.update(changes)
    return OutgoingMessage(**values)  # type: ignore[arg-type]


def received(server: SmtpServer, index: int = 0) -> EmailMessage:
    data = server.recorder.messages[index]["data"].replace(b"\r\n", b"\n")
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_sends_multipart_with_exact_headers(smtp_server: SmtpServer) -> None:
    channel = SmtpChannel(config(smtp_server), environ=ENV, now=lambda: NOW)
    result = channel.send(email())
    channel.close()
    digest = hashlib.sha256(b"camp-1:cust-7:email").hexdigest()[:32]
    assert result.status == "sent"
    assert result.provider_message_id == f"<{digest}@shop.example>"
    assert smtp_server.recorder.logins == [SMTP_USER]
    [envelope] = smtp_server.recorder.messages
    assert envelope["mail_from"] == "news@shop.example"
    assert envelope["rcpt_tos"] == ["jana@example.cz"]
    raw = envelope["data"]
    assert b"=?utf-8?" in raw  # the Cyrillic subject travels RFC 2047-encoded
    message = received(smtp_server)
    token = unsubscribe_token(SECRET, "cust-7", "email", "camp-1")
    headers = {key: str(value) for key, value in message.items()}
    assert headers.pop("Content-Type").startswith('multipart/alternative; boundary="')
    # on the wire as written (RFC 2369/8058 URIs, never RFC 2047 encoded words), a URI a line
    assert (
        f"List-Unsubscribe: <https://shop.example/unsubscribe?token={token}>,\r\n"
        " <mailto:unsubscribe@shop.example?subject=unsubscribe%20cust-7>\r\n"
    ).encode() in raw
    assert headers == {
        "From": "Shop <news@shop.example>",
        "To": "jana@example.cz",
        "Subject": "Весенняя распродажа — jaro 2026",
        "Date": "Thu, 05 Mar 2026 10:00:00 +0000",
        "Message-ID": f"<{digest}@shop.example>",
        "List-Unsubscribe": f"<https://shop.example/unsubscribe?token={token}>, "
        "<mailto:unsubscribe@shop.example?subject=unsubscribe%20cust-7>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "MIME-Version": "1.0",
    }
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert [part.get_content_charset() for part in parts] == ["utf-8", "utf-8"]
    assert parts[0].get_content() == "Ahoj Jano,\nсейчас −20 %.\n"
    assert parts[1].get_content() == "<p>Ahoj <b>Jano</b>, сейчас −20 %.</p>\n"


def test_unsubscribe_token_round_trip() -> None:
    token = unsubscribe_token(SECRET, "cust-7", "email", "camp-1")
    request = verify_unsubscribe_token(SECRET, token)
    assert request is not None
    assert (request.customer_id, request.channel, request.campaign_id) == (
        "cust-7",
        "email",
        "camp-1",
    )
    assert verify_unsubscribe_token("other-secret", token) is None
    _payload, signature = token.split(".")
    forged = base64.urlsafe_b64encode(b"cust-8\nemail\ncamp-1").rstrip(b"=").decode()
    assert verify_unsubscribe_token(SECRET, f"{forged}.{signature}") is None
    assert verify_unsubscribe_token(SECRET, "garbage") is None
    plain = verify_unsubscribe_token(SECRET, unsubscribe_token(SECRET, "c", "sms"))
    assert plain is not None
    assert plain.campaign_id is None


def test_text_only_and_given_unsubscribe_header(smtp_server: SmtpServer) -> None:
    channel = SmtpChannel(
        {**config(smtp_server), "unsubscribe_url": None, "reply_to": "care@shop.example"},
        environ=ENV,
        now=lambda: NOW,
    )
    given = "<https://shop.example/u/abc>"
    result = channel.send(
        email(html=None, headers={"List-Unsubscribe": given, "X-Campaign": "camp-1"})
    )
    channel.close()
    assert result.status == "sent"
    message = received(smtp_server)
    assert message.get_content_type() == "text/plain"
    assert message["List-Unsubscribe"] == given
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Reply-To"] == "care@shop.example"
    assert message["X-Campaign"] == "camp-1"


def test_a_given_unsubscribe_header_cannot_add_header_lines(smtp_server: SmtpServer) -> None:
    channel = SmtpChannel({**config(smtp_server), "unsubscribe_url": None}, environ=ENV)
    injected = "<https://shop.example/u/abc>\r\nBcc: everyone@example.com"
    result = channel.send(email(headers={"List-Unsubscribe": injected}))
    channel.close()
    assert (result.status, result.error) == (
        "permanent_failure",
        "invalid message: List-Unsubscribe must be one line",
    )
    assert smtp_server.recorder.messages == []


def test_resend_has_the_same_message_id(smtp_server: SmtpServer) -> None:
    channel = SmtpChannel(config(smtp_server), environ=ENV)
    assert channel.send(email()).status == "sent"
    assert channel.send(email()).status == "sent"  # at-least-once: the provider sees it twice
    channel.close()
    ids = [received(smtp_server, index)["Message-ID"] for index in (0, 1)]
    assert ids[0] == ids[1] == message_id_for("camp-1:cust-7:email", "shop.example")


def test_dkim_signature_verifies(smtp_server: SmtpServer, tmp_path: object) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    lookups: list[bytes] = []

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        lookups.append(name)
        return record if name == b"s2026._domainkey.shop.example." else b""

    env = {**ENV, "DKIM_KEY": pem}
    dkim_config = {"domain": "shop.example", "selector": "s2026", "private_key_env": "DKIM_KEY"}
    channel = SmtpChannel(config(smtp_server, dkim=dkim_config), environ=env)
    assert channel.send(email()).status == "sent"
    channel.close()
    data = smtp_server.recorder.messages[0]["data"]
    assert data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(data, dnsfunc=dnsfunc)
    assert lookups == [b"s2026._domainkey.shop.example."]
    tampered = data.replace(b"Ahoj", b"Ahoi", 1)
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)


def test_permanent_failure_on_5xx(smtp_server: SmtpServer) -> None:
    smtp_server.recorder.rcpt_reply = "550 5.1.1 No such user"
    channel = SmtpChannel(config(smtp_server), environ=ENV)
    result = channel.send(email())
    assert (result.status, result.error) == ("permanent_failure", "SMTP 550 5.1.1 No such user")
    smtp_server.recorder.rcpt_reply = None
    assert channel.send(email()).status == "sent"  # the connection is still usable
    channel.close()


def test_temporary_failure_on_4xx(smtp_server: SmtpServer) -> None:
    smtp_server.recorder.data_reply = "451 4.3.0 Try again later"
    channel = SmtpChannel(config(smtp_server), environ=ENV)
    result = channel.send(email())
    channel.close()
    assert (result.status, result.error) == ("temporary_failure", "SMTP 451 4.3.0 Try again later")
    assert smtp_server.recorder.messages == []


def test_temporary_failure_when_unreachable(smtp_server: SmtpServer) -> None:
    from tests.campaigns.conftest import free_port

    channel = SmtpChannel({**config(smtp_server), "port": free_port(), "timeout": 2}, environ=ENV)
    result = channel.send(email())
    channel.close()
    assert result.status == "temporary_failure"
    assert result.error is not None
    assert result.error.startswith("SMTP connection: ")


def test_bad_login_is_temporary_and_secret_is_not_in_the_error(smtp_server: SmtpServer) -> None:
    channel = SmtpChannel(config(smtp_server), environ={**ENV, "SMTP_P": "wrong-password"})
    result = channel.send(email())
    channel.close()
    assert result.status == "temporary_failure"
    assert result.error == "SMTP authentication failed (535)"


def test_invalid_recipient_is_permanent(smtp_server: SmtpServer) -> None:
    channel = SmtpChannel(config(smtp_server), environ=ENV)
    result = channel.send(email(to="not an address"))
    channel.close()
    assert result.status == "permanent_failure"
    assert smtp_server.recorder.messages == []


def test_config_errors(smtp_server: SmtpServer) -> None:
    with pytest.raises(ChannelConfigError, match="'SMTP_U' is not set"):
        SmtpChannel(config(smtp_server), environ={})
    with pytest.raises(ChannelConfigError, match="https"):
        SmtpChannel(config(smtp_server, unsubscribe_url="http://x"), environ=ENV)
    with pytest.raises(ChannelConfigError, match="unknown channel type"):
        channel_from_config({"type": "pigeon"})
    assert isinstance(channel_from_config(config(smtp_server), environ=ENV), SmtpChannel)


def test_unsubscribe_url_token_is_verifiable(smtp_server: SmtpServer) -> None:
    channel = SmtpChannel(config(smtp_server), environ=ENV)
    channel.send(email())
    channel.close()
    header = str(received(smtp_server)["List-Unsubscribe"])
    url = header.split(",")[0].strip("<> ")
    token = unquote(url.split("token=")[1])
    request = verify_unsubscribe_token(SECRET, token)
    assert request is not None
    assert request.customer_id == "cust-7"
