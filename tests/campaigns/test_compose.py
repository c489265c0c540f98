"""The compose reads (estimate, preview, counter) and writes (draft save, reject)."""

from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns import compose
from campaigns.models import Campaign, CampaignSettings
from contacts.lists import list_add_contacts
from contacts.models import Suppression
from contacts.services import contact_opt_out
from messaging.models import Status
from tests.factories import (
    CampaignFactory,
    ContactFactory,
    ContactListFactory,
    MessageFactory,
    ProviderAccountFactory,
    SenderFactory,
)

pytestmark = pytest.mark.django_db

# 3 + 15 (the fallback is longer than a typical first name) + 2 + 130 = 150 characters:
# one segment alone, two (172 > 160) once the 22-character footer is added.
BODY = "Hi {{ first_name | valued customer }}! " + "a" * 130


@pytest.fixture
def sender():
    account = ProviderAccountFactory(
        default_price=Decimal("0.04"), prices={"GB": "0.035", "US": "0.0075"}
    )
    return SenderFactory(account=account)


@pytest.fixture
def audience():
    """Three reachable GB contacts, two US, one of unknown country; one GB contact
    opted out and one US number suppressed without the contact flag."""
    gb = [ContactFactory(country="GB", phone=f"+4479460000{i:02d}") for i in range(4)]
    us = [ContactFactory(country="US", phone=f"+1202555{i:04d}") for i in range(3)]
    unknown = ContactFactory(country="", phone="+447946000099", first_name="")
    contact_opt_out(phone=gb[3].phone, source="keyword")
    Suppression.objects.create(phone=us[2].phone, source="import")
    the_list = ContactListFactory()
    list_add_contacts(contact_list=the_list, contact_ids=[c.pk for c in [*gb, *us, unknown]])
    return the_list, gb, us, unknown


def _estimate(sender, the_list, **kwargs):
    return compose.compose_estimate(
        body=kwargs.pop("body", BODY), sender=sender, lists=[the_list], **kwargs
    )


def test_it_estimates_cost_per_country_from_hand_computed_prices(sender, audience):
    the_list, *_ = audience

    estimate = _estimate(sender, the_list)

    assert estimate.analysis.characters == 150 + 22
    assert estimate.segments == 2
    assert (estimate.audience, estimate.recipients, estimate.left_out) == (8, 6, 2)
    assert [(c.country, c.recipients, c.price, c.cost) for c in estimate.countries] == [
        ("GB", 3, Decimal("0.035"), Decimal("0.210")),  # 3 x 2 x 0.035
        ("US", 2, Decimal("0.0075"), Decimal("0.0300")),  # 2 x 2 x 0.0075
        ("", 1, Decimal("0.04"), Decimal("0.08")),  # the account's default price
    ]
    assert estimate.cost == Decimal("0.32")


def test_without_the_footer_the_same_body_is_one_segment_and_half_the_cost(sender, audience):
    the_list, *_ = audience

    estimate = _estimate(sender, the_list, opt_out_footer=False)

    assert (estimate.analysis.characters, estimate.segments) == (150, 1)
    assert estimate.cost == Decimal("0.16")


def test_the_footer_is_not_added_twice(sender, audience):
    the_list, *_ = audience
    footer = CampaignSettings.load().opt_out_footer

    estimate = _estimate(sender, the_list, body=f"Sale today. {footer.upper()}")

    assert estimate.template == f"Sale today. {footer.upper()}"


def test_recipients_and_cost_come_from_one_grouped_query(sender, audience):
    the_list, *_ = audience
    CampaignSettings.load()

    with CaptureQueriesContext(connection) as queries:
        _estimate(sender, the_list)

    grouped = [q["sql"] for q in queries if "GROUP BY" in q["sql"]]
    assert len(grouped) == 1 and "country" in grouped[0]


def test_exclusions_and_suppressions_are_left_out(sender, audience):
    the_list, gb, *_ = audience
    vip = ContactListFactory()
    list_add_contacts(contact_list=vip, contact_ids=[gb[0].pk])

    estimate = _estimate(sender, the_list, exclude_lists=[vip])

    assert estimate.recipients == 5
    assert gb[0] not in [contact for contact, _ in estimate.previews]


def test_it_previews_the_first_three_reachable_recipients_with_fallbacks(sender, audience):
    the_list, gb, *_ = audience
    gb[1].first_name = ""
    gb[1].save()

    estimate = _estimate(sender, the_list, body="Hi {{ first_name | there }}, see you.")

    assert [(c, text) for c, text in estimate.previews] == [
        (gb[0], f"Hi {gb[0].first_name}, see you.\nReply STOP to opt out"),
        (gb[1], "Hi there, see you.\nReply STOP to opt out"),
        (gb[2], f"Hi {gb[2].first_name}, see you.\nReply STOP to opt out"),
    ]


def test_without_an_audience_it_previews_with_the_fallbacks(sender):
    estimate = compose.compose_estimate(body="Hi {{ first_name | there }}", sender=sender)

    assert not estimate.audience_chosen and estimate.recipients == 0
    assert estimate.previews == [(None, "Hi there\nReply STOP to opt out")]


def test_the_counter_counts_merge_fields_and_short_links_at_typical_length(sender):
    body = "Hi {{ first_name }} {{ plan }}: https://shop.example.com/spring/sale?ref=sms-campaign"
    link = compose.short_link_length()
    assert link == len(settings.SHORT_LINK_BASE_URL) + 9

    shortened = compose.compose_estimate(body=body, sender=sender, opt_out_footer=False)
    as_written = compose.compose_estimate(
        body=body, sender=sender, opt_out_footer=False, shorten_links=False
    )

    # first_name counts 7, a custom field 10, the link its short length.
    assert shortened.analysis.characters == len("Hi ") + 7 + 1 + 10 + len(": ") + link
    assert shortened.has_links
    url = "https://shop.example.com/spring/sale?ref=sms-campaign"
    assert as_written.analysis.characters == len("Hi ") + 7 + 1 + 10 + len(": ") + len(url)
    assert shortened.previews[0][1].startswith("Hi  : " + settings.SHORT_LINK_BASE_URL + "/")
    assert len(shortened.previews[0][1]) == len("Hi  : ") + link


def test_the_counter_names_what_forced_ucs2_and_offers_the_fix(sender):
    estimate = compose.compose_estimate(
        body="It\u2019s on \u2014 come in", sender=sender, opt_out_footer=False
    )

    assert estimate.analysis.encoding == "UCS-2"
    assert set(estimate.analysis.unicode_characters) == {"\u2019", "\u2014"}
    assert estimate.fixable and estimate.smart.text == "It's on - come in"


def test_the_fix_is_not_offered_when_it_cannot_make_the_text_gsm(sender):
    estimate = compose.compose_estimate(body="Caf\u00e9 \u2014 \u4f60\u597d", sender=sender)

    assert estimate.analysis.encoding == "UCS-2" and not estimate.fixable


def test_a_test_body_is_personal_for_a_known_number_and_uses_fallbacks_otherwise(audience):
    _, gb, *_ = audience
    body = "Hi {{ first_name | there }} https://example.com/x"
    template = compose.draft_template(
        body, shorten_links=True, opt_out_footer=False, footer="Reply STOP to opt out"
    )
    assert template == "Hi {{ first_name | there }} {{ link:1 }}"

    known, contact = compose.body_for_test_send(body=body, template=template, to=gb[0].phone)
    unknown, nobody = compose.body_for_test_send(body=body, template=template, to="+447700900123")

    assert (known, contact) == (f"Hi {gb[0].first_name} https://example.com/x", gb[0])
    assert (unknown, nobody) == ("Hi there https://example.com/x", None)


def test_hand_typed_link_tags_out_of_range_render_empty(sender):
    body = "A {{ link:0 }} B {{ link:12 }} C"

    estimate = compose.compose_estimate(body=body, sender=sender, opt_out_footer=False)
    text, _ = compose.body_for_test_send(body=body, template=estimate.template, to="+447911123456")

    assert estimate.previews == [(None, "A  B  C")]
    assert text == "A  B  C"


def _draft(sender, **fields):
    return compose.Draft(name="Spring", sender=sender, body="Hello", **fields)


def test_saving_an_edit_of_a_scheduled_campaign_takes_it_back_to_draft(sender, admin_user):
    the_list = ContactListFactory()
    campaign = CampaignFactory(
        sender=sender, status=Campaign.Status.SCHEDULED, approved_by=admin_user
    )

    saved = compose.campaign_draft_save(
        draft=_draft(sender, lists=[the_list]), by=admin_user, campaign=campaign
    )

    assert (saved.status, saved.name, saved.approved_by) == (Campaign.Status.DRAFT, "Spring", None)
    assert list(saved.lists.all()) == [the_list]


def test_an_edit_loses_to_a_launch_that_claimed_the_campaign_first(sender, admin_user):
    campaign = CampaignFactory(sender=sender)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.LAUNCHING)

    with pytest.raises(ValidationError, match="can no longer be edited"):
        compose.campaign_draft_save(draft=_draft(sender), by=admin_user, campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.LAUNCHING and campaign.name != "Spring"


def test_rejecting_sends_a_submission_back_to_draft_once(sender, admin_user):
    campaign = CampaignFactory(sender=sender, status=Campaign.Status.PENDING_APPROVAL)

    compose.campaign_reject(campaign=campaign, by=admin_user)
    assert campaign.status == Campaign.Status.DRAFT
    with pytest.raises(ValidationError):
        compose.campaign_reject(campaign=campaign, by=admin_user)


def test_rates_count_every_campaign_on_the_page_in_one_query(sender, django_assert_num_queries):
    first, second, idle = CampaignFactory.create_batch(3, sender=sender)
    for status in ["delivered", "delivered", "delivered", "failed", "sent", "queued", "suppressed"]:
        MessageFactory(sender=sender, campaign_id=first.pk, status=status)
    MessageFactory(sender=sender, campaign_id=second.pk, status=Status.UNDELIVERED)

    with django_assert_num_queries(1):
        rates = compose.campaign_rates([first.pk, second.pk, idle.pk])

    one = rates[first.pk]
    assert (one.messages, one.recipients, one.sent, one.delivered, one.failed, one.queued) == (
        7,
        6,
        5,
        3,
        1,
        1,
    )
    assert (one.delivered_pct, one.failed_pct) == (60.0, 20.0)
    assert rates[second.pk].failed_pct == 100.0
    assert idle.pk not in rates
