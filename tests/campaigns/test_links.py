import pytest
from django.db import DatabaseError

from campaigns import links
from campaigns.launch import links_save
from campaigns.models import Click
from campaigns.reports import engagement
from messaging.merge import link_code
from tests.factories import CampaignFactory, ContactFactory, MessageFactory

pytestmark = pytest.mark.django_db

PHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
PREVIEW_AGENTS = [
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) "
    "Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",  # iMessage
    "Twitterbot/1.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "WhatsApp/2.23.20.0 A",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
    "LinkPreview/1.0",
]


@pytest.fixture
def campaign():
    campaign = CampaignFactory(
        body="Spring sale https://shop.example.com/sale?ref=sms#top and https://example.org",
        utm="utm_source=sms&utm_campaign=spring",
    )
    links_save(campaign)
    return campaign


def _message(campaign, **fields):
    contact = ContactFactory()
    return MessageFactory(
        campaign_id=campaign.pk,
        contact=contact,
        to_number=contact.phone,
        sender=campaign.sender,
        status="delivered",
        **fields,
    )


def _url(message_id: int, index: int = 1) -> str:
    return f"/l/{link_code(message_id, index)}"


def test_it_redirects_with_the_utm_merged_into_the_links_own_query(client, campaign):
    message = _message(campaign)

    response = client.get(_url(message.pk), HTTP_USER_AGENT=PHONE_SAFARI)

    assert response.status_code == 302
    assert response["Location"] == (
        "https://shop.example.com/sale?ref=sms&utm_source=sms&utm_campaign=spring#top"
    )
    assert response["Cache-Control"] == "no-store"
    second = client.get(_url(message.pk, 2), HTTP_USER_AGENT=PHONE_SAFARI)
    assert second["Location"] == "https://example.org?utm_source=sms&utm_campaign=spring"


def test_it_records_the_click_with_recipient_and_user_agent(client, campaign):
    message = _message(campaign)

    client.get(_url(message.pk, 2), HTTP_USER_AGENT=PHONE_SAFARI)

    click = Click.objects.get()
    assert (click.message_id, click.campaign_id, click.contact_id) == (
        message.pk,
        campaign.pk,
        message.contact_id,
    )
    assert click.link.index == 2 and click.link.url == "https://example.org"
    assert click.user_agent == PHONE_SAFARI


def test_it_counts_unique_recipients_and_every_click(client, campaign):
    first, second = _message(campaign), _message(campaign)
    for message_id, index in [(first.pk, 1), (first.pk, 1), (first.pk, 2), (second.pk, 1)]:
        assert client.get(_url(message_id, index), HTTP_USER_AGENT=PHONE_SAFARI).status_code == 302

    counted = engagement(campaign)

    assert (counted.clicks_unique, counted.clicks_total) == (2, 4)


@pytest.mark.parametrize("agent", PREVIEW_AGENTS)
def test_link_previews_are_redirected_but_not_counted(client, campaign, agent):
    message = _message(campaign)

    response = client.get(_url(message.pk), HTTP_USER_AGENT=agent)

    assert response.status_code == 302
    assert response["Location"].startswith("https://shop.example.com/sale?")
    assert not Click.objects.exists()


def test_a_head_request_is_redirected_but_not_counted(client, campaign):
    message = _message(campaign)

    response = client.head(_url(message.pk), HTTP_USER_AGENT=PHONE_SAFARI)

    assert response.status_code == 302
    assert not Click.objects.exists()


@pytest.mark.parametrize(
    "code",
    [
        "abc",  # no link index
        "10",  # index 0
        "a",  # too short
        "a-b1",  # not base 62
        "zzzzzzzzzzz1",  # past the largest bigint
        "1" * 40,  # far too long
        "ZZZZZZ1",  # no such message
    ],
)
def test_unknown_or_malformed_codes_get_the_friendly_404(client, campaign, code):
    response = client.get(f"/l/{code}", HTTP_USER_AGENT=PHONE_SAFARI)

    assert response.status_code == 404
    assert b"Page not found" in response.content


def test_a_link_index_the_campaign_does_not_have_is_a_404(client, campaign):
    message = _message(campaign)

    assert client.get(_url(message.pk, 5)).status_code == 404


def test_messages_outside_a_campaign_have_no_short_links(client, campaign):
    one_off = MessageFactory(campaign_id=None)
    inbound = MessageFactory(campaign_id=campaign.pk, direction="in", status="received")

    assert client.get(_url(one_off.pk)).status_code == 404
    assert client.get(_url(inbound.pk)).status_code == 404
    assert not Click.objects.exists()


def test_post_is_refused(client, campaign):
    message = _message(campaign)

    assert client.post(_url(message.pk)).status_code == 405


def test_a_click_that_cannot_be_stored_still_redirects(client, campaign, monkeypatch):
    message = _message(campaign)

    def broken(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(links, "click_record", broken)

    assert client.get(_url(message.pk), HTTP_USER_AGENT=PHONE_SAFARI).status_code == 302


def test_a_click_takes_three_queries(client, campaign, django_assert_num_queries):
    message = _message(campaign)

    with django_assert_num_queries(3):  # the message, the link, the click
        client.get(_url(message.pk), HTTP_USER_AGENT=PHONE_SAFARI)


@pytest.mark.parametrize(
    ("url", "utm", "expected"),
    [
        ("https://a.example/x", "utm_source=sms", "https://a.example/x?utm_source=sms"),
        ("https://a.example/x?", "utm_source=sms", "https://a.example/x?utm_source=sms"),
        ("https://a.example/x?a=1&", "utm_source=sms", "https://a.example/x?a=1&utm_source=sms"),
        (
            "https://a.example/x?q=caf%C3%A9+au+lait&b",
            "utm_source=sms",
            "https://a.example/x?q=caf%C3%A9+au+lait&b&utm_source=sms",
        ),
        (
            "https://a.example/x?utm_source=email&a=1#frag",
            "utm_source=sms&utm_medium=text",
            "https://a.example/x?utm_source=email&a=1&utm_medium=text#frag",
        ),
        (
            "https://a.example/",
            "?utm_campaign=spring sale",
            "https://a.example/?utm_campaign=spring%20sale",
        ),
        ("https://a.example/", "", "https://a.example/"),
        ("https://a.example/?utm_source=x", "utm_source=sms", "https://a.example/?utm_source=x"),
    ],
)
def test_utm_parameters_are_merged_into_the_query(url, utm, expected):
    assert links.with_utm(url, utm) == expected


def test_it_knows_preview_fetchers_from_phones():
    assert all(links.is_preview_fetcher(agent) for agent in PREVIEW_AGENTS)
    assert not links.is_preview_fetcher(PHONE_SAFARI)
    assert not links.is_preview_fetcher(
        "Mozilla/5.0 (Linux; Android 13; CUBOT KINGKONG 9) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36"
    )
