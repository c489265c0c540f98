import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts import lists as list_services
from contacts import views_lists
from contacts.lists import list_add_contacts, list_remove_contacts
from contacts.models import Contact, ContactList, ListMembership
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def newsletter() -> ContactList:
    return ContactList.objects.create(name="Newsletter")


def members(contact_list: ContactList) -> set[int]:
    return set(contact_list.contacts.values_list("id", flat=True))


# -- services ---------------------------------------------------------------------------


def test_it_adds_contacts_and_counts_only_new_members(newsletter):
    a, b, c = ContactFactory.create_batch(3)
    assert list_add_contacts(contact_list=newsletter, contact_ids=[a.pk, b.pk]) == 2
    assert list_add_contacts(contact_list=newsletter, contact_ids=[b.pk, c.pk, c.pk]) == 1
    assert members(newsletter) == {a.pk, b.pk, c.pk}
    assert list_add_contacts(contact_list=newsletter, contact_ids=[]) == 0


def test_adding_skips_unknown_and_erased_contacts(newsletter):
    kept = ContactFactory()
    erased = ContactFactory(erased_at=timezone.now())
    assert list_add_contacts(contact_list=newsletter, contact_ids=[kept.pk, erased.pk, 987654]) == 1
    assert members(newsletter) == {kept.pk}


def test_adding_keeps_the_first_added_at(newsletter):
    contact = ContactFactory()
    list_add_contacts(contact_list=newsletter, contact_ids=[contact.pk])
    first = ListMembership.objects.get().added_at
    list_add_contacts(contact_list=newsletter, contact_ids=[contact.pk])
    assert ListMembership.objects.get().added_at == first


def test_adding_and_removing_are_one_statement_per_chunk(newsletter, monkeypatch):
    monkeypatch.setattr(list_services, "CHUNK", 2)
    ids = [c.pk for c in ContactFactory.create_batch(5)]
    with CaptureQueriesContext(connection) as added:
        assert list_add_contacts(contact_list=newsletter, contact_ids=ids) == 5
    inserts = [q["sql"] for q in added.captured_queries if q["sql"].startswith("INSERT")]
    assert len(inserts) == 3  # 2 + 2 + 1
    with CaptureQueriesContext(connection) as removed:
        assert list_remove_contacts(contact_list=newsletter, contact_ids=ids[:4]) == 4
    deletes = [q["sql"] for q in removed.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 2
    assert members(newsletter) == {ids[4]}


def test_removing_leaves_the_contacts_and_other_lists_alone(newsletter):
    board = ContactList.objects.create(name="Board")
    a, b = ContactFactory.create_batch(2)
    list_add_contacts(contact_list=newsletter, contact_ids=[a.pk, b.pk])
    list_add_contacts(contact_list=board, contact_ids=[a.pk])
    assert list_remove_contacts(contact_list=newsletter, contact_ids=[a.pk, 987654]) == 1
    assert members(newsletter) == {b.pk}
    assert members(board) == {a.pk}
    assert Contact.objects.count() == 2


# -- pages ------------------------------------------------------------------------------


def test_the_lists_page_shows_member_counts_in_one_query(client, support_user):
    client.force_login(support_user)
    people = ContactFactory.create_batch(3)
    for name, size in [("Alpha", 3), ("Beta", 1), ("Gamma", 0)]:
        contact_list = ContactList.objects.create(name=name)
        list_add_contacts(contact_list=contact_list, contact_ids=[p.pk for p in people[:size]])
    with CaptureQueriesContext(connection) as three_lists:
        response = client.get(reverse("contacts:lists"))
    assert [(lst.name, lst.member_count) for lst in response.context["lists"]] == [
        ("Alpha", 3),
        ("Beta", 1),
        ("Gamma", 0),
    ]
    for n in range(5):
        ContactList.objects.create(name=f"More {n}")
    with CaptureQueriesContext(connection) as eight_lists:
        client.get(reverse("contacts:lists"))
    assert len(eight_lists) == len(three_lists)  # no query per list
    assert reverse("contacts:list_create") not in response.text  # support only views


def test_the_lists_page_has_an_empty_state(client, marketer_user):
    client.force_login(marketer_user)
    response = client.get(reverse("contacts:lists"))
    assert "No list yet." in response.text
    assert reverse("contacts:list_create") in response.text


def test_a_marketer_creates_and_renames_a_list(client, marketer_user):
    client.force_login(marketer_user)
    response = client.post(reverse("contacts:list_create"), {"name": "VIPs", "description": "Best"})
    created = ContactList.objects.get()
    assert response.url == reverse("contacts:list_detail", args=[created.pk])
    assert created.created_by == marketer_user
    response = client.post(
        reverse("contacts:list_edit", args=[created.pk]), {"name": "Very VIPs", "description": ""}
    )
    assert response.status_code == 302
    created.refresh_from_db()
    assert created.name == "Very VIPs"


def test_a_repeated_create_submit_makes_one_list(client, marketer_user):
    client.force_login(marketer_user)
    assert client.post(reverse("contacts:list_create"), {"name": "VIPs"}).status_code == 302
    again = client.post(reverse("contacts:list_create"), {"name": "VIPs"})
    assert again.status_code == 200
    assert "A list with this name already exists." in again.text
    assert ContactList.objects.count() == 1


def test_an_empty_name_is_refused(client, marketer_user):
    client.force_login(marketer_user)
    response = client.post(reverse("contacts:list_create"), {"name": "  "})
    assert response.status_code == 200 and "This field is required." in response.text
    assert not ContactList.objects.exists()


def test_deleting_a_list_keeps_its_contacts(client, marketer_user, newsletter):
    client.force_login(marketer_user)
    people = ContactFactory.create_batch(2)
    list_add_contacts(contact_list=newsletter, contact_ids=[p.pk for p in people])
    confirm = client.get(reverse("contacts:list_delete", args=[newsletter.pk]))
    assert "its 2 members stay in your contacts" in confirm.text
    response = client.post(reverse("contacts:list_delete", args=[newsletter.pk]))
    assert response.url == reverse("contacts:lists")
    assert not ContactList.objects.exists() and not ListMembership.objects.exists()
    assert Contact.objects.count() == 2


def test_the_list_page_pages_members_by_contact_id(client, support_user, newsletter, monkeypatch):
    monkeypatch.setattr(views_lists, "PAGE_SIZE", 2)
    client.force_login(support_user)
    people = ContactFactory.create_batch(5)
    ContactFactory()  # not a member
    list_add_contacts(contact_list=newsletter, contact_ids=[p.pk for p in people])
    Contact.objects.filter(pk=people[3].pk).update(erased_at=timezone.now())
    url = reverse("contacts:list_detail", args=[newsletter.pk])
    seen, query = [], ""
    while True:
        response = client.get(f"{url}?{query}")
        seen.append([m.contact_id for m in response.context["page"]])
        query = response.context["next_query"]
        if not query:
            break
    expected = sorted((p.pk for p in people if p != people[3]), reverse=True)
    assert seen == [expected[:2], expected[2:]]
    assert 'name="ids"' not in response.text  # support gets no remove checkboxes


def test_a_marketer_removes_members_from_the_list_page(client, marketer_user, newsletter):
    client.force_login(marketer_user)
    a, b, c = ContactFactory.create_batch(3)
    list_add_contacts(contact_list=newsletter, contact_ids=[a.pk, b.pk, c.pk])
    page = client.get(reverse("contacts:list_detail", args=[newsletter.pk]))
    assert page.context["contact_list"].member_count == 3
    assert f'name="ids" value="{a.pk}"' in page.text
    url = reverse("contacts:list_remove_members", args=[newsletter.pk])
    response = client.post(url, {"ids": [str(a.pk), str(b.pk), "x"]}, follow=True)
    assert "Removed 2 contact(s) from Newsletter." in response.text
    assert members(newsletter) == {c.pk}
    nothing = client.post(url, {}, follow=True)
    assert "Select the contacts to remove first." in nothing.text


def test_support_can_view_lists_but_not_change_them(client, support_user, newsletter):
    client.force_login(support_user)
    contact = ContactFactory()
    list_add_contacts(contact_list=newsletter, contact_ids=[contact.pk])
    assert client.get(reverse("contacts:lists")).status_code == 200
    assert client.get(reverse("contacts:list_detail", args=[newsletter.pk])).status_code == 200
    for url in [
        reverse("contacts:list_create"),
        reverse("contacts:list_edit", args=[newsletter.pk]),
        reverse("contacts:list_delete", args=[newsletter.pk]),
    ]:
        assert client.get(url).status_code == 403
        assert client.post(url, {"name": "Mine"}).status_code == 403
    remove = reverse("contacts:list_remove_members", args=[newsletter.pk])
    assert client.post(remove, {"ids": [contact.pk]}).status_code == 403
    assert members(newsletter) == {contact.pk}
    assert ContactList.objects.get().name == "Newsletter"


def test_anonymous_visitors_are_sent_to_sign_in(client, newsletter):
    for url in [reverse("contacts:lists"), reverse("contacts:list_detail", args=[newsletter.pk])]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    response = client.post(reverse("contacts:list_delete", args=[newsletter.pk]))
    assert response.status_code == 302 and ContactList.objects.exists()


# -- indexes ------------------------------------------------------------------------------


def _indexes(table: str) -> dict[str, dict]:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


def test_memberships_have_no_index_that_another_one_already_answers():
    """Migration 0006: every import wrote these for each member, for nothing."""
    found = {
        tuple(c["columns"]): c["unique"]
        for c in _indexes(ListMembership._meta.db_table).values()
        if (c["index"] or c["unique"]) and not c["primary_key"]
    }
    assert found == {
        ("contact_list_id", "contact_id"): True,
        ("contact_id", "contact_list_id"): False,
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_members_are_found_by_list_and_by_contact_through_the_two_column_indexes(newsletter):
    contact = ContactFactory()
    list_add_contacts(contact_list=newsletter, contact_ids=[contact.pk])
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for column, value in (("contact_list_id", newsletter.pk), ("contact_id", contact.pk)):
            cursor.execute(
                f"EXPLAIN SELECT count(*) FROM contacts_listmembership WHERE {column} = %s",  # noqa: S608 - a column name of ours
                [value],
            )
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    assert "list_member_once" in plans[0], plans[0]
    assert "membership_by_contact_idx" in plans[1], plans[1]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="an index only PostgreSQL had")
def test_contacts_have_the_unique_phone_index_only_and_no_name_index():
    indexes = _indexes(Contact._meta.db_table)
    on_phone = [name for name, c in indexes.items() if c["columns"] == ["phone"]]
    assert on_phone == ["contacts_contact_phone_key"]
    assert "contact_name_idx" not in indexes
