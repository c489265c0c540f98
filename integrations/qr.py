"""QR codes that open the phone's messaging app with a text ready to send."""

from __future__ import annotations

import io

import segno


def sms_uri(number: str, keyword: str) -> str:
    """SMSTO:<number>:<text>, the form phone cameras and scanner apps understand."""
    return f"SMSTO:{number}:{keyword}"


def make(number: str, keyword: str) -> segno.QRCode:
    # Level M survives a scuffed or partly covered poster without a dense code.
    return segno.make(sms_uri(number, keyword), error="m", micro=False)


def png(number: str, keyword: str, *, scale: int = 12) -> bytes:
    out = io.BytesIO()
    make(number, keyword).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def svg(number: str, keyword: str, *, scale: int = 10) -> bytes:
    out = io.BytesIO()
    make(number, keyword).save(
        out, kind="svg", scale=scale, border=4, xmldecl=False, title=f"Text {keyword} to {number}"
    )
    return out.getvalue()
