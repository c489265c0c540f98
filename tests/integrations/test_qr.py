"""QR codes: the PNG decodes (zxing-cpp) to a pre-filled text; SVG and the poster."""

import struct
import zlib

import pytest
import zxingcpp
from django.urls import reverse

from integrations.qr import sms_uri
from tests.factories import SenderFactory

pytestmark = pytest.mark.django_db


def png_to_gray(data: bytes) -> memoryview:
    """Decode a non-interlaced grayscale or palette PNG (what segno writes) into
    one byte per pixel, the shape zxing-cpp reads. Standard library only."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, palette = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert color in (0, 3) and interlace == 0
        elif kind == b"PLTE":
            palette = [chunk[i] for i in range(0, len(chunk), 3)]  # red is enough for gray
        elif kind == b"IDAT":
            idat += chunk
    raw = zlib.decompress(idat)
    stride = (width * depth + 7) // 8
    bpp = max(1, depth // 8)
    rows, prev, offset = [], bytearray(stride), 0
    for _ in range(height):
        kind, line = raw[offset], bytearray(raw[offset + 1 : offset + 1 + stride])
        offset += 1 + stride
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, up_left = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else up_left
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    pixels = bytearray()
    top = (1 << depth) - 1
    for line in rows:
        for x in range(width):
            bit = x * depth
            value = (line[bit // 8] >> (8 - depth - bit % 8)) & top
            if palette is not None:
                pixels.append(palette[value])
            else:
                pixels.append(value * 255 // top)
    return memoryview(bytes(pixels)).cast("B", (height, width))


@pytest.fixture
def sender():
    return SenderFactory(value="+447911000002")


def test_the_png_decodes_to_a_prefilled_text(client, admin_user, sender):
    client.force_login(admin_user)
    url = reverse("integrations:qr_png", args=[sender.pk])

    response = client.get(url, {"keyword": "JOIN"})

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert "attachment" in response["Content-Disposition"]
    (code,) = zxingcpp.read_barcodes(png_to_gray(response.content))
    assert code.format == zxingcpp.BarcodeFormat.QRCode
    assert code.text == "SMSTO:+447911000002:JOIN"


def test_a_keyword_with_spaces_survives_the_round_trip(client, admin_user, sender):
    client.force_login(admin_user)
    response = client.get(
        reverse("integrations:qr_png", args=[sender.pk]), {"keyword": "PIZZA 2", "inline": "1"}
    )
    (code,) = zxingcpp.read_barcodes(png_to_gray(response.content))
    assert code.text == sms_uri(sender.value, "PIZZA 2")


def test_the_svg_and_the_poster(client, admin_user, sender):
    client.force_login(admin_user)
    svg = client.get(reverse("integrations:qr_svg", args=[sender.pk]), {"keyword": "JOIN"})
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert svg.content.lstrip().startswith(b"<svg")
    poster = client.get(reverse("integrations:qr_poster", args=[sender.pk]), {"keyword": "JOIN"})
    assert poster.status_code == 200
    text = poster.content.decode()
    assert "+447911000002" in text and "JOIN" in text
    assert reverse("integrations:qr_svg", args=[sender.pk]) in text


def test_bad_keywords_and_alphanumeric_senders_are_refused(client, admin_user, sender):
    client.force_login(admin_user)
    url = reverse("integrations:qr_png", args=[sender.pk])
    for bad in ("", "<script>", "x" * 31, "JOIN:NOW"):
        assert client.get(url, {"keyword": bad}).status_code == 400, bad
    named = SenderFactory(kind="alphanumeric", value="SHOP")
    assert client.get(reverse("integrations:qr_png", args=[named.pk])).status_code == 404


def test_the_form_previews_and_links_the_downloads(client, admin_user, sender):
    client.force_login(admin_user)
    page = client.get(reverse("integrations:qr_index"), {"sender": sender.pk, "keyword": "INFO"})
    assert page.status_code == 200
    assert b'data-testid="qr-preview"' in page.content
    assert b"keyword=INFO" in page.content
    empty = client.get(reverse("integrations:qr_index"), {"sender": "", "keyword": "<b>"})
    assert b"qr-preview" not in empty.content and b"<b>" not in empty.content


def test_other_roles_get_no_codes(client, marketer_user, sender):
    client.force_login(marketer_user)
    assert client.get(reverse("integrations:qr_png", args=[sender.pk])).status_code == 403
