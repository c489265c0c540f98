"""The SMTP listener's handler (aiosmtpd): recipients are checked at RCPT time, the
sender and the text at DATA time; every refusal is a 55x reply with its reason,
which the sending mail server puts in the bounce."""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from emailsms import services
from emailsms.models import Channel
from emailsms.text import sms_text_of

log = logging.getLogger(__name__)
T = TypeVar("T")


def _db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ORM work in a long-lived process: stale connections are dropped first."""
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


async def _in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await sync_to_async(_db, thread_sensitive=True)(fn, *args, **kwargs)


class EmailToSMSHandler:
    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= settings.EMAIL_TO_SMS_MAX_RECIPIENTS:
            return f"452 4.5.3 Too many recipients: at most {settings.EMAIL_TO_SMS_MAX_RECIPIENTS} numbers per mail"
        try:
            await _in_thread(services.recipient_number, address)
        except services.Refused as refusal:
            log.info("refused RCPT %s from %s: %s", address, envelope.mail_from, refusal.reason)
            return refusal.smtp_reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", errors="replace")
        try:
            accepted = await _in_thread(
                receive_mail,
                content=content,
                mail_from=envelope.mail_from or "",
                rcpt_tos=list(envelope.rcpt_tos),
            )
        except services.Refused as refusal:
            log.info("refused DATA from %s: %s", envelope.mail_from, refusal.reason)
            return refusal.smtp_reply
        except Exception:
            log.exception("could not take a mail from %s", envelope.mail_from)
            return "451 4.3.0 Temporary failure: please try again later"
        if accepted is None:
            return "250 2.0.0 OK: an automatic reply or bounce, not texted"
        new = [a for a in accepted if not a.duplicate]
        if not new:
            return "250 2.0.0 OK: already sent (this Message-ID was seen before)"
        suppressed = [a.text.to_number for a in new if a.suppressed]
        if suppressed:
            return f"250 2.0.0 OK: {len(new)} text(s) queued; not sent to opted-out {', '.join(suppressed)}"
        return f"250 2.0.0 OK: {len(new)} text(s) queued"


def receive_mail(
    *, content: bytes, mail_from: str, rcpt_tos: list[str]
) -> list[services.Accepted] | None:
    """One mail from the listener: numbers re-checked (an opt-out may have come in
    since RCPT), the sender taken from the From header (the person, not the bounce
    address), the text cut from the body. None: an automatic mail, not texted."""
    mail = email.message_from_bytes(content, policy=email.policy.default)
    headers = {name: str(mail.get(name) or "") for name in set(mail.keys())}
    if services.is_automatic(headers, envelope_sender=mail_from):
        return None
    # An opt-out that came in since RCPT is still respected: the engine suppresses it.
    numbers = [services.recipient_number(a, check_opt_out=False) for a in rcpt_tos]
    from_address = str(mail.get("From") or "") or mail_from
    return services.email_receive(
        channel=Channel.SMTP,
        from_address=from_address,
        numbers=numbers,
        message_id=services.message_id_of(str(mail.get("Message-ID") or ""), content),
        subject=str(mail.get("Subject") or ""),
        text=sms_text_of(mail),
    )
