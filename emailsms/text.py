"""The SMS text of a mail: the first text part (text/plain preferred, else HTML made
plain), with quoted replies and signatures cut."""

from __future__ import annotations

import re
from email.message import EmailMessage, Message
from html.parser import HTMLParser

from mailparser_reply import EmailReplyParser

# Lines that mail clients add below a message and that no one means to text.
_CLIENT_FOOTERS = re.compile(
    r"^\s*(sent from my \w+|sent from (outlook|mail) for \w+|get outlook for \w+)\b.*$",
    re.IGNORECASE | re.MULTILINE,
)
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"}
)


class _HTMLText(HTMLParser):
    """Visible text of an HTML body; quoted blocks (blockquote, Gmail's quote div)
    are left out, as are scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if (
            self._skip
            or tag in {"script", "style", "head", "blockquote"}
            or "gmail_quote" in classes
        ):
            if tag not in {"br", "img", "hr", "meta", "link", "input"}:
                self._skip.append(tag)
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skip:
            if self._skip[-1] == tag:
                self._skip.pop()
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)

    def text(self) -> str:
        joined = "".join(self.parts).replace("\xa0", " ")
        lines = [" ".join(line.split()) for line in joined.splitlines()]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    parser = _HTMLText()
    parser.feed(html)
    parser.close()
    return parser.text()


def first_text_part(mail: Message) -> str:
    """The first text/plain part that is not an attachment, else the first text/html
    part as plain text, else ''."""
    plain = html = None
    for part in mail.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _decoded(part)
        elif kind == "text/html" and html is None:
            html = _decoded(part)
    if plain is not None and plain.strip():
        return plain
    return html_to_text(html) if html else ""


def _decoded(part: Message) -> str:
    if isinstance(part, EmailMessage):
        try:
            return part.get_content()
        except (LookupError, UnicodeError):
            pass
    payload = part.get_payload(decode=True) or b""
    return payload.decode(part.get_content_charset() or "utf-8", errors="replace")


def cut_reply(text: str) -> str:
    """The new part of a mail: quoted text ("On ... wrote:", "> ...") and the
    signature ("-- ", "Thanks, Bob", "Sent from my iPhone") cut off."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return ""
    # "-- " on its own line is the standard signature separator (RFC 3676).
    text = re.split(r"^-- ?$", text, maxsplit=1, flags=re.MULTILINE)[0]
    parsed = EmailReplyParser(languages=["en", "de", "fr", "es", "it", "nl"]).read(text)
    first = parsed.replies[0] if parsed.replies else None
    body = first.body if first is not None else text
    if not body.strip() and first is not None:
        body = first.content  # all signature: keep what was written
    body = _CLIENT_FOOTERS.sub("", body)
    lines = [line.rstrip() for line in body.splitlines() if not line.lstrip().startswith(">")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def sms_text_of(mail: Message) -> str:
    return cut_reply(first_text_part(mail))
