"""A text is shown as text: HTML, script and HTMX attributes in a body never
become markup, in the thread, the list preview, the search results or the poll."""

import pytest
from django.urls import reverse
from django.utils import timezone

from inbox.models import Conversation
from inbox.views import micros
from tests.inbox.conftest import receive

pytestmark = pytest.mark.django_db

PAYLOADS = [
    "<script>alert('x1')</script>",
    "<img src=x onerror=alert('x2')>",
    "<svg/onload=alert('x3')>",
    '"><script>alert("x4")</script>',
    "'><img src=x onerror=alert('x5')>",
    "<a href=\"javascript:alert('x6')\">tap</a>",
    "<iframe src=\"javascript:alert('x7')\"></iframe>",
    "<body onload=alert('x8')>",
    "</textarea><script>alert('x9')</script>",
    "<style>*{display:none}</style>x10",
    '<div hx-get="/inbox/" hx-trigger="load">x11</div>',
    "&lt;script&gt;alert('x12')&lt;/script&gt;",
]


@pytest.fixture
def conversations(sender):
    for i, payload in enumerate(PAYLOADS):
        receive(sender, payload, number=f"+4479123456{i:02d}")
    return list(Conversation.objects.order_by("id"))


def _assert_inert(content: str) -> None:
    for payload in PAYLOADS:
        assert payload not in content, payload
    # Any of these as real markup would mean a payload was not escaped.
    for marker in (
        "<script>alert",
        "<img src=x",
        "<svg/",
        "<iframe",
        "<body onload",
        "<style>*",
        'href="javascript:',
        '<div hx-get="/inbox/"',
    ):
        assert marker not in content, marker


def test_the_thread_and_the_list_show_payloads_as_text(client, support_user, conversations):
    client.force_login(support_user)
    for conversation in conversations:
        response = client.get(reverse("inbox:conversation", args=[conversation.pk]) + "?folder=all")
        content = response.content.decode()
        _assert_inert(content)
        assert "&lt;" in content or "&amp;lt;" in content
    # The list holds every preview.
    assert content.count('data-testid="conversation-preview"') == len(PAYLOADS)


def test_search_results_show_payloads_as_text(client, support_user, conversations):
    client.force_login(support_user)
    for needle in ("alert", "script", "onerror", "x11"):
        response = client.get(reverse("inbox:index"), {"q": needle})
        assert response.context["hits"], needle
        _assert_inert(response.content.decode())


def test_the_poll_shows_payloads_as_text(client, support_user, conversations):
    client.force_login(support_user)
    long_ago = str(micros(timezone.now()) - 60_000_000)
    for conversation in conversations:
        response = client.get(
            reverse("inbox:poll"),
            {
                "folder": "all",
                "list_since": long_ago,
                "conversation": conversation.pk,
                "thread_since": long_ago,
            },
            HTTP_HX_REQUEST="true",
        )
        _assert_inert(response.content.decode())


def test_the_highlight_filter_escapes_every_piece():
    from inbox.templatetags.inbox_tags import highlight

    html = highlight("<b>bold</b> & <script>x</script>", "b")
    assert (
        str(html)
        == "&lt;<mark>b</mark>&gt;<mark>b</mark>old&lt;/<mark>b</mark>&gt; &amp; &lt;script&gt;x&lt;/script&gt;"
    )
