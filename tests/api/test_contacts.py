"""Contacts, consent, lists and segments through the API."""

from __future__ import annotations

import pytest

from contacts.models import ConsentEvent, Contact, CustomField, Segment, Suppression
from tests.factories import ContactFactory, ContactListFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/contacts"


def test_it_creates_finds_and_updates_a_contact(api):
    CustomField.objects.create(key="plan", label="Plan", kind="choice", choices=["gold", "free"])

    created = api.post(
        URL,
        {"phone": "07912 345701", "first_name": "Ada", "custom": {"plan": "gold"}},
        format="json",
    )

    assert created.status_code == 201, created.content
    contact = Contact.objects.get()
    assert (contact.phone, contact.first_name, contact.custom, contact.source) == (
        "+447912345701",
        "Ada",
        {"plan": "gold"},
        "api",
    )
    found = api.get(URL, {"phone": "+44 7912 345701"}).json()["results"]
    assert [c["id"] for c in found] == [contact.pk]
    assert api.get(URL, {"phone": "+447912345799"}).json()["results"] == []

    updated = api.patch(f"{URL}/{contact.pk}", {"last_name": "Lovelace"}, format="json")
    assert updated.status_code == 200
    assert updated.json()["last_name"] == "Lovelace"
    assert updated.json()["first_name"] == "Ada"


def test_a_second_contact_with_the_number_is_a_conflict(api):
    ContactFactory(phone="+447912345702")
    response = api.post(URL, {"phone": "+447912345702"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "contact_exists"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phone": "+447912345703", "custom": {"nope": 1}}, "custom"),
        ({"phone": "+447912345703", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"phone": "+447912345703", "email": "not-an-email"}, "email"),
        ({"phone": "+447912345703", "first_name": ["A"]}, "first_name"),
        ({"phone": "+447912345703", "age": 3}, "age"),
    ],
)
def test_bad_contact_input_is_refused(api, payload, field):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert not Contact.objects.exists()


def test_opt_out_and_in_go_through_the_consent_ledger(api):
    contact = ContactFactory(phone="+447912345704")

    out = api.post(f"{URL}/opt-out", {"phone": "07912345704"}, format="json")

    assert out.json() == {"phone": "+447912345704", "opted_out": True, "contact_id": contact.pk}
    assert Suppression.objects.filter(phone="+447912345704").exists()
    contact.refresh_from_db()
    assert contact.opted_out
    back = api.post(f"{URL}/opt-in", {"phone": "+447912345704"}, format="json")
    assert back.json()["opted_out"] is False
    assert list(ConsentEvent.objects.order_by("id").values_list("kind", "source")) == [
        ("opt_out", "api"),
        ("opt_in", "api"),
    ]


def test_a_number_without_a_contact_can_opt_out(api):
    response = api.post(f"{URL}/opt-out", {"phone": "+447912345705"}, format="json")
    assert response.json()["contact_id"] is None
    assert Suppression.objects.filter(phone="+447912345705").exists()


def test_lists_count_members_and_take_new_ones(api):
    contact_list = ContactListFactory(name="VIP")
    existing = ContactFactory()

    response = api.post(
        f"/api/v1/lists/{contact_list.pk}/members",
        {"contact_ids": [existing.pk], "phones": ["+447912345706"]},
        format="json",
    )

    assert response.json() == {"added": 2, "members": 2}
    again = api.post(
        f"/api/v1/lists/{contact_list.pk}/members", {"contact_ids": [existing.pk]}, format="json"
    )
    assert again.json() == {"added": 0, "members": 2}
    lists = api.get("/api/v1/lists").json()["results"]
    assert [(row["name"], row["members"]) for row in lists] == [("VIP", 2)]
    assert Contact.objects.get(phone="+447912345706").source == "api"
    assert api.get(f"/api/v1/lists/{contact_list.pk}").json()["members"] == 2


def test_segments_show_their_counts(api):
    ContactFactory(first_name="Ada")
    ContactFactory(first_name="Bob")
    segment = Segment.objects.create(
        name="Adas", rules=[{"field": "first_name", "op": "equals", "value": "Ada"}]
    )
    rows = api.get("/api/v1/segments").json()["results"]
    assert [(r["name"], r["count"]) for r in rows] == [("Adas", 1)]
    assert api.get(f"/api/v1/segments/{segment.pk}").json()["count"] == 1


def test_unknown_and_impossible_ids_are_404(api):
    for url in (f"{URL}/999999", f"{URL}/99999999999999999999999", "/api/v1/lists/0"):
        response = api.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"


def test_contacts_need_their_scope(make_client):
    assert (
        make_client("send").post(URL, {"phone": "+447912345707"}, format="json").status_code == 403
    )
    assert make_client("read").get(URL).status_code == 200


def test_null_characters_and_lone_surrogates_are_refused_not_crashing(api):
    body = '{"phone": "+447912345708", "custom": {"a\\u0000": "x\\u0000", "\\ud800": 1}}'
    response = api.post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]["custom"]) == {"a\x00", "\ud800"}
