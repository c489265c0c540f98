"""The SMS text of a mail: first part, quotes and signatures cut."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from emailsms.services import is_automatic
from emailsms.text import cut_reply, html_to_text, sms_text_of


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("Call me at 3pm.", "Call me at 3pm."),
        ("Call me at 3pm.\n\nThanks,\nBob\n", "Call me at 3pm."),
        ("Meeting moved to 4.\n-- \nJane Smith\nACME Ltd\n", "Meeting moved to 4."),
        ("Hello there\n\nSent from my iPhone\n", "Hello there"),
        (
            "Yes, 8pm works.\n\nOn Mon, 1 Dec 2026 at 10:00, Sam <sam@example.net> wrote:\n"
            "> Does 8pm work?\n> Sam\n",
            "Yes, 8pm works.",
        ),
        ("Parcel ready.\n\n-----Original Message-----\nFrom: shop\nParcel?\n", "Parcel ready."),
        ("Line one\nline two\n\n> quoted\n", "Line one\nline two"),
        (
            "Hi Sam,\r\n\r\nTable booked.\r\n\r\nBest regards,\r\nThe Bistro\r\n",
            "Hi Sam,\n\nTable booked.",
        ),
        ("   \n\n", ""),
    ],
)
def test_it_cuts_quotes_and_signatures(body, text):
    assert cut_reply(body) == text


def test_html_becomes_plain_text_without_quotes_scripts_or_entities():
    html = (
        "<html><head><style>p { color: red }</style><script>alert(1)</script></head><body>"
        "<p>Fish &amp; chips&nbsp;at <b>7</b></p><div>Second line</div>"
        "<div class='gmail_quote'>On Monday Sam wrote:<blockquote>Dinner?</blockquote></div>"
        "</body></html>"
    )
    assert html_to_text(html) == "Fish & chips at 7\n\nSecond line"


def _parsed(message: EmailMessage):
    return message_from_bytes(message.as_bytes(), policy=policy.default)


def test_plain_text_is_preferred_to_html():
    message = EmailMessage()
    message.set_content("The plain one.")
    message.add_alternative("<p>The HTML one.</p>", subtype="html")
    assert sms_text_of(_parsed(message)) == "The plain one."


def test_an_empty_plain_part_falls_back_to_html():
    message = EmailMessage()
    message.set_content("  \n")
    message.add_alternative("<p>The HTML one.</p>", subtype="html")
    assert sms_text_of(_parsed(message)) == "The HTML one."


def test_attachments_are_not_the_text():
    message = EmailMessage()
    message.set_content("See the menu.")
    message.add_attachment("not this", filename="notes.txt")
    message.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="menu.pdf")
    assert sms_text_of(_parsed(message)) == "See the menu."


def test_an_attachment_first_is_skipped():
    message = EmailMessage()
    message.make_mixed()
    attachment = EmailMessage()
    attachment.set_content("not this", disposition="attachment", filename="a.txt")
    body = EmailMessage()
    body.set_content("Ünïcode text ✓", charset="utf-8")
    message.attach(attachment)
    message.attach(body)
    assert sms_text_of(_parsed(message)) == "Ünïcode text ✓"


@pytest.mark.parametrize(
    ("headers", "envelope", "automatic"),
    [
        ({}, "ada@example.com", False),
        ({"Auto-Submitted": "no"}, "ada@example.com", False),
        ({"Auto-Submitted": "auto-replied"}, "ada@example.com", True),
        ({"Precedence": "bulk"}, None, True),
        ({"X-Autoreply": "yes"}, None, True),
        ({"List-Id": "<team.example.com>"}, None, True),
        ({}, "", True),
        ({}, "<>", True),
    ],
)
def test_automatic_mail_is_recognised(headers, envelope, automatic):
    assert is_automatic(headers, envelope_sender=envelope) is automatic
