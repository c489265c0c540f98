from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from contacts import segments
from contacts.models import Contact, ContactList, CustomField, ListMembership, Segment
from contacts.segments import Operator, register_rule, rules_queryset, segment_queryset
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
# These look at the SQL PostgreSQL gets (ILIKE for the trigram index, @> for GIN).
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="checks PostgreSQL-specific SQL"
)


def _at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


@pytest.fixture
def people() -> dict[str, Contact]:
    """Fifteen contacts; every expected set below is worked out by hand from this table."""
    for key, kind, choices in [
        ("plan", "choice", ["free", "pro", "team"]),
        ("score", "number", []),
        ("renewal", "date", []),
        ("vip", "boolean", []),
        ("company", "text", []),
    ]:
        CustomField.objects.create(key=key, label=key.title(), kind=kind, choices=choices)
    today = timezone.localdate()
    rows = [
        # first name, last name, country, extra fields, custom
        ("Ada", "Lovelace", "GB", {"phone": "+447911123456", "email": "ada@example.com"},
         {"plan": "pro", "score": 90, "renewal": "2024-03-01", "vip": True, "company": "Analytical Engines"}),
        ("Alan", "Turing", "GB", {"opted_out": True},
         {"plan": "free", "score": 75, "renewal": "2023-12-31", "vip": False, "company": "Bletchley Park"}),
        ("Grace", "Hopper", "US", {"source": "import"},
         {"plan": "team", "score": 88.5, "company": "US Navy"}),
        ("Katherine", "Johnson", "US", {}, {"plan": "pro", "score": "n/a"}),
        ("Edsger", "Dijkstra", "NL", {}, {"renewal": ""}),
        ("Barbara", "Liskov", "US", {"email": "barbara@MIT.edu"}, {"company": ""}),
        ("Donald", "Knuth", "US", {}, {"score": 100, "renewal": "someday"}),
        ("Margaret", "Hamilton", "US", {},
         {"vip": True, "renewal": (today - timedelta(days=3)).isoformat()}),
        ("Tim", "Berners-Lee", "GB", {},
         {"company": "CERN", "renewal": (today - timedelta(days=40)).isoformat()}),
        ("Linus", "Torvalds", "FI", {"time_zone": "Europe/Helsinki"}, {}),
        ("Radia", "Perlman", "US", {"erased_at": timezone.now()}, {"plan": "pro"}),
        ("Frances", "Allen", "US", {}, {"plan": "free", "score": 60}),
        ("Ken", "Thompson", "", {}, {}),
        ("Dennis", "Ritchie", "US", {"source": "api"}, {}),
        ("Hedy", "Lamarr", "AT", {"opted_out": True}, {"vip": False}),
    ]  # fmt: skip
    people = {
        first: ContactFactory(
            first_name=first, last_name=last, country=country, custom=custom, **extra
        )
        for first, last, country, extra, custom in rows
    }
    created = {"Ada": _at(2024, 1, 10), "Alan": _at(2024, 1, 20)}
    created["Margaret"] = timezone.now() - timedelta(days=2)
    created["Tim"] = timezone.now() - timedelta(days=10)
    for first, contact in people.items():
        Contact.objects.filter(pk=contact.pk).update(
            created_at=created.get(first, _at(2024, 1, 15))
        )
    newsletter = ContactList.objects.create(name="Newsletter")
    for first in ["Ada", "Grace", "Radia"]:
        ListMembership.objects.create(contact_list=newsletter, contact=people[first])
    ListMembership.objects.create(
        contact_list=ContactList.objects.create(name="Board"), contact=people["Alan"]
    )
    return people


EVERYONE = {
    "Ada",
    "Alan",
    "Grace",
    "Katherine",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Tim",
    "Linus",
    "Frances",
    "Ken",
    "Dennis",
    "Hedy",
}  # fmt: skip  (Radia is erased: never in a segment)
US = {"Grace", "Katherine", "Barbara", "Donald", "Margaret", "Frances", "Dennis"}


def names(match: str, rules: list[dict]) -> set[str]:
    return set(rules_queryset(match, rules).values_list("first_name", flat=True))


def rule(field: str, op: str, value=None) -> dict:
    return {"field": field, "op": op, "value": value}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (rule("first_name", "equals", "ada"), {"Ada"}),
        (rule("last_name", "contains", "SON"), {"Katherine", "Ken"}),
        (rule("email", "is_empty"), EVERYONE - {"Ada", "Barbara"}),
        (rule("email", "contains", "mit.edu"), {"Barbara"}),
        (rule("phone", "equals", "07911 123456"), {"Ada"}),
        (rule("phone", "contains", "123456"), {"Ada"}),
        (rule("country", "equals", "us"), US),
        (rule("country", "not_equals", "US"), EVERYONE - US),
        (rule("country", "is_empty"), {"Ken"}),
        (rule("time_zone", "equals", "europe/helsinki"), {"Linus"}),
        (rule("source", "equals", "import"), {"Grace"}),
        (rule("source", "not_equals", "manual"), {"Grace", "Dennis"}),
        (rule("created_at", "before", "2024-01-15"), {"Ada"}),
        (rule("created_at", "after", "2024-01-15"), {"Alan", "Margaret", "Tim"}),
        (rule("created_at", "since", "2024-01-15"), EVERYONE - {"Ada"}),
        (rule("created_at", "within_days", "7"), {"Margaret"}),
        (rule("consent", "subscribed"), EVERYONE - {"Alan", "Hedy"}),
        (rule("consent", "opted_out"), {"Alan", "Hedy"}),
        (rule("custom.plan", "equals", "pro"), {"Ada", "Katherine"}),
        (rule("custom.score", "equals", "90"), {"Ada"}),
        (rule("custom.score", "equals", "88.5"), {"Grace"}),
        (rule("custom.score", "gt", "80"), {"Ada", "Grace", "Donald"}),
        (rule("custom.score", "lt", 80), {"Alan", "Frances"}),
        (rule("custom.renewal", "before", "2024-01-01"), {"Alan"}),
        (rule("custom.renewal", "after", "2024-01-01"), {"Ada", "Margaret", "Tim"}),
        (rule("custom.renewal", "within_days", 30), {"Margaret"}),
        (rule("custom.vip", "is_true"), {"Ada", "Margaret"}),
        (rule("custom.vip", "is_false"), {"Alan", "Hedy"}),
        (rule("custom.company", "equals", "CERN"), {"Tim"}),
        (rule("custom.company", "contains", "park"), {"Alan"}),
        (rule("custom.company", "is_empty"), EVERYONE - {"Ada", "Alan", "Grace", "Tim"}),
    ],
)
def test_it_selects_exactly_the_contacts_each_rule_kind_describes(people, given, expected):
    assert names("all", [given]) == expected


def test_it_selects_list_members_and_non_members(people):
    newsletter = ContactList.objects.get(name="Newsletter")
    assert names("all", [rule("list", "in", newsletter.pk)]) == {"Ada", "Grace"}
    assert names("all", [rule("list", "not_in", str(newsletter.pk))]) == EVERYONE - {"Ada", "Grace"}


def test_it_ands_rules_with_all_and_ors_them_with_any(people):
    newsletter = ContactList.objects.get(name="Newsletter")
    us_pro = [rule("country", "equals", "US"), rule("custom.plan", "equals", "pro")]
    assert names("all", us_pro) == {"Katherine"}
    assert names("any", us_pro) == US | {"Ada"}
    mixed = [
        rule("country", "equals", "NL"),
        rule("custom.vip", "is_true"),
        rule("list", "in", newsletter.pk),
    ]
    assert names("any", mixed) == {"Edsger", "Ada", "Margaret", "Grace"}
    assert names("all", [rule("consent", "opted_out"), rule("list", "not_in", newsletter.pk)]) == {
        "Alan",
        "Hedy",
    }


def test_it_merges_list_rules_into_one_subquery(people):
    newsletter = ContactList.objects.get(name="Newsletter")
    board = ContactList.objects.get(name="Board")
    either = [rule("list", "in", newsletter.pk), rule("list", "in", board.pk)]
    assert names("any", either) == {"Ada", "Grace", "Alan"}
    assert str(rules_queryset("any", either).query).count("EXISTS") == 1
    neither = [rule("list", "not_in", newsletter.pk), rule("list", "not_in", board.pk)]
    assert names("all", neither) == EVERYONE - {"Ada", "Grace", "Alan"}
    assert str(rules_queryset("all", neither).query).count("EXISTS") == 1
    both = [rule("list", "in", newsletter.pk), rule("list", "in", board.pk)]
    assert names("all", both) == set()
    # "Not in A or not in B" is no NOT EXISTS over both: those stay separate.
    assert names("any", neither) == EVERYONE
    assert names("any", [neither[0], rule("country", "equals", "FI")]) == EVERYONE - {
        "Ada",
        "Grace",
    }


def test_it_merges_same_field_rules_into_one_in_and_keeps_their_meaning(people):
    ContactFactory(first_name="sophie", last_name="", country="FR")
    either = [
        rule("first_name", "equals", "SOPHIE"),
        rule("first_name", "equals", "ada"),
        rule("first_name", "equals", "Ada"),
        rule("country", "equals", "nl"),
    ]
    assert names("any", either) == {"sophie", "Ada", "Edsger"}
    sql = str(rules_queryset("any", either).query)
    assert sql.count('UPPER("contacts_contact"."first_name")') == 1  # one IN, not three ORs
    assert " OR " in sql  # first name OR country: different fields stay apart
    # Each rule alone still compiles to its own condition (iexact).
    assert names("any", either[:1]) == {"sophie"}
    # "is" joined by all is no IN: nobody has two first names.
    assert names("all", either[:2]) == set()
    countries = [rule("country", "equals", "FI"), rule("country", "equals", "at")]
    assert names("any", countries) == {"Linus", "Hedy"}
    assert str(rules_queryset("any", countries).query).count(" IN ") == 1
    not_these = [rule("country", "not_equals", "US"), rule("country", "not_equals", "GB")]
    assert names("all", not_these) == EVERYONE - US - {"Ada", "Alan", "Tim"} | {"sophie"}
    assert str(rules_queryset("all", not_these).query).count(" IN ") == 1
    # "Not US or not GB" is everyone: those stay separate.
    assert names("any", not_these) == EVERYONE | {"sophie"}
    sources = [rule("source", "equals", "import"), rule("source", "equals", "api")]
    assert names("any", sources) == {"Grace", "Dennis"}
    numbers = [rule("phone", "equals", "+447911123456"), rule("phone", "equals", "07000 000000")]
    assert names("any", numbers) == {"Ada"}


def test_is_empty_matches_only_empty_values(people):
    ContactFactory(first_name="", last_name="Nameless")
    ContactFactory(first_name=" ", last_name="Blank")
    assert set(
        rules_queryset("all", [rule("first_name", "is_empty")]).values_list("last_name", flat=True)
    ) == {"Nameless"}


def _count_plan(match: str, rules: list[dict]) -> str:
    sql, params = rules_queryset(match, rules).values("pk").query.get_compiler("default").as_sql()
    with connection.cursor() as cursor:
        # With a handful of rows a sequential scan is cheaper; forbid it, so that
        # the plan shows whether the index can answer the rules at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN SELECT count(*) FROM ({sql}) AS m", params)  # noqa: S608
        return "\n".join(row[0] for row in cursor.fetchall())


@postgres_only
@pytest.mark.parametrize("column", ["first_name", "last_name"])
def test_a_count_of_equals_rules_is_answered_from_the_rule_index_alone(people, column):
    either = [rule(column, "equals", "Ada"), rule(column, "equals", "Grace")]
    plan = _count_plan("any", either)
    assert f"Index Only Scan using contact_{column}_rule_idx" in plan, plan
    assert "= ANY" in plan, plan
    plan = _count_plan("all", [either[0], rule("consent", "subscribed")])
    assert f"Index Only Scan using contact_{column}_rule_idx" in plan, plan


@postgres_only
def test_a_count_of_country_and_consent_rules_is_answered_from_an_index_alone(people):
    countries = [rule("country", "equals", "FI"), rule("country", "equals", "AT")]
    for match, rules in [
        ("any", countries),
        ("all", [countries[0], rule("consent", "opted_out")]),
        ("all", [rule("country", "not_equals", "US"), rule("consent", "subscribed")]),
    ]:
        plan = _count_plan(match, rules)
        assert "Index Only Scan using contact_country_rule_idx" in plan, plan


@postgres_only
def test_contains_matches_wildcards_literally_and_lets_the_trigram_index_help():
    ContactFactory(first_name="Jo_hn", email="50%off@example.com")
    ContactFactory(first_name="Joxhn", email="500ff@example.com")
    assert names("all", [rule("first_name", "contains", "o_h")]) == {"Jo_hn"}
    assert names("all", [rule("email", "contains", "0%o")]) == {"Jo_hn"}
    sql = str(rules_queryset("all", [rule("first_name", "contains", "o_h")]).query)
    assert "ILIKE" in sql  # the contact_search_trgm expression, so the index applies


def test_the_segment_query_composes_as_a_subquery_and_with_joins(people):
    segment = rules_queryset(
        "any", [rule("first_name", "contains", "ada"), rule("custom.score", "gt", 95)]
    )
    assert set(
        Contact.objects.filter(pk__in=segment.values("pk")).values_list("first_name", flat=True)
    ) == {"Ada", "Donald"}
    assert set(segment.filter(suppression__isnull=True).values_list("first_name", flat=True)) == {
        "Ada",
        "Donald",
    }


def test_it_describes_rules_in_words(people):
    newsletter = ContactList.objects.get(name="Newsletter")
    segment = Segment(
        match="any",
        rules=[
            rule("list", "in", newsletter.pk),
            rule("list", "not_in", 987654),
            rule("created_at", "within_days", 1),
            rule("consent", "opted_out"),
            rule("source", "equals", "api"),
        ],
    )
    assert segments.segment_describe(segment) == [
        "List is in Newsletter",
        "List is not in 987654 (deleted)",
        "Added is within the last 1 day",
        "Consent has opted out",
        "Source is API",
    ]


def test_it_never_includes_erased_contacts(people):
    assert "Radia" not in names("any", [rule("custom.plan", "equals", "pro")])
    assert names("all", []) == EVERYONE


@postgres_only
def test_it_compiles_a_segment_to_one_query_with_index_friendly_sql(
    people, django_assert_num_queries
):
    newsletter = ContactList.objects.get(name="Newsletter")
    rules = [rule("list", "not_in", newsletter.pk), rule("consent", "subscribed")]
    with django_assert_num_queries(1):
        assert rules_queryset("all", rules).count() == len(
            EVERYONE - {"Ada", "Grace", "Alan", "Hedy"}
        )
    custom = rules_queryset("any", [rule("custom.plan", "equals", "pro"), *rules])
    sql = str(custom.query)
    assert "NOT (EXISTS(" in sql and "@>" in sql and " IN (" not in sql


def test_segment_queryset_uses_the_saved_match_and_rules(people):
    segment = Segment.objects.create(
        name="GB or NL",
        match="any",
        rules=[rule("country", "equals", "GB"), rule("country", "equals", "NL")],
    )
    assert set(segment_queryset(segment).values_list("first_name", flat=True)) == {
        "Ada", "Alan", "Tim", "Edsger",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("match", "rules", "message"),
    [
        ("all", [rule("shoe_size", "equals", "9")], "Rule 1: Unknown field 'shoe_size'."),
        ("all", [rule("custom.gone", "equals", "x")], "Rule 1: There is no custom field 'gone'."),
        ("all", [rule("first_name", "gt", "A")], "Rule 1: First name cannot be compared with 'gt'"),
        ("all", [rule("custom.score", "gt", "lots")], "Rule 1: 'lots' is not a number."),
        ("all", [rule("custom.renewal", "before", "2024-13-01")], "is not a date (YYYY-MM-DD)"),
        ("all", [rule("created_at", "within_days", "0")], "whole number of days"),
        ("all", [rule("list", "in", "abc")], "Rule 1: Choose one."),
        ("all", [rule("source", "equals", "fax")], "'fax' is not one of the choices for Source"),
        ("all", [rule("country", "equals", "Britain")], "not a two-letter country code"),
        ("all", [rule("phone", "equals", "12")], "'12' is"),
        ("all", [rule("first_name", "equals", "  ")], "Rule 1: Enter a value."),
        ("all", ["first_name"], "Rule 1: A rule must be an object"),
        ("some", [], "Match must be 'all' or 'any'"),
        ("all", {"field": "first_name"}, "Rules must be a list."),
    ],
)
def test_it_refuses_invalid_rules_with_a_clear_message(people, match, rules, message):
    with pytest.raises(ValidationError) as caught:
        rules_queryset(match, rules)
    assert message in " ".join(caught.value.messages)


def test_it_lists_every_invalid_rule_at_once(people):
    with pytest.raises(ValidationError) as caught:
        rules_queryset(
            "all",
            [
                rule("first_name", "equals", "Ada"),
                rule("nope", "x"),
                rule("custom.score", "lt", ""),
            ],
        )
    assert caught.value.messages == ["Rule 2: Unknown field 'nope'.", "Rule 3: Enter a number."]


def test_it_lets_other_apps_register_rule_kinds(people, monkeypatch):
    monkeypatch.setattr(segments, "_REGISTRY", dict(segments._REGISTRY))
    register_rule(
        "has_email",
        label="Has an email",
        group="Test",
        operators={"yes": Operator("is yes", "none", lambda _: ~Q(email=""))},
    )
    assert names("all", [rule("has_email", "yes")]) == {"Ada", "Barbara"}
    with pytest.raises(ValueError, match="already registered"):
        register_rule("has_email", label="Again", operators={})
    with pytest.raises(ValueError, match="reserved"):
        register_rule("custom.x", label="Clash", operators={})


def test_segment_count_is_cached_until_asked_fresh(people):
    segment = Segment.objects.create(name="GB", rules=[rule("country", "equals", "GB")])
    assert segments.segment_count(segment, fresh=True) == 3
    ContactFactory(country="GB")
    assert segments.segment_count(segment) == 3
    assert segments.segment_count(segment, fresh=True) == 4


# -- pages ------------------------------------------------------------------------------


def _form(name: str, match: str, rules: list[dict]) -> dict:
    data = {
        "name": name,
        "match": match,
        "rules-TOTAL_FORMS": str(len(rules)),
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "1",
        "rules-MAX_NUM_FORMS": "50",
    }
    for index, given in enumerate(rules):
        for key in ("field", "op", "value"):
            data[f"rules-{index}-{key}"] = "" if given.get(key) is None else str(given[key])
    return data


def test_it_saves_a_segment_with_checked_rules(client, marketer_user, people):
    client.force_login(marketer_user)
    data = _form(
        "US pros", "all", [rule("country", "equals", "us"), rule("custom.score", "gt", "80.0")]
    )
    response = client.post(reverse("contacts:segment_create"), data)
    segment = Segment.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("contacts:segment_detail", args=[segment.pk])
    assert segment.rules == [
        {"field": "country", "op": "equals", "value": "US"},
        {"field": "custom.score", "op": "gt", "value": 80},
    ]
    assert segment.created_by == marketer_user
    page = client.get(response.url)
    assert page.status_code == 200
    assert page.context["count"] == 2  # Grace (88.5) and Donald (100)
    assert "Country is US" in page.text


def test_a_repeated_create_submit_makes_one_segment(client, marketer_user, people):
    client.force_login(marketer_user)
    data = _form("GB", "all", [rule("country", "equals", "GB")])
    assert client.post(reverse("contacts:segment_create"), data).status_code == 302
    again = client.post(reverse("contacts:segment_create"), data)
    assert again.status_code == 200
    assert "A segment with this name already exists." in again.text
    assert Segment.objects.count() == 1


def test_it_shows_rule_errors_on_the_form_instead_of_saving(client, marketer_user, people):
    client.force_login(marketer_user)
    response = client.post(
        reverse("contacts:segment_create"),
        _form("Bad", "all", [rule("custom.score", "gt", "lots")]),
    )
    assert response.status_code == 200
    assert "&#x27;lots&#x27; is not a number." in response.text
    empty = client.post(reverse("contacts:segment_create"), _form("Empty", "all", []))
    assert "Add at least one rule." in empty.text
    assert not Segment.objects.exists()


def test_it_edits_and_deletes_a_segment(client, marketer_user, people):
    client.force_login(marketer_user)
    segment = Segment.objects.create(name="GB", rules=[rule("country", "equals", "GB")])
    form = client.get(reverse("contacts:segment_edit", args=[segment.pk]))
    assert 'data-initial="GB"' in form.text
    data = _form(
        "GB or FI", "any", [rule("country", "equals", "GB"), rule("country", "equals", "FI")]
    )
    assert client.post(reverse("contacts:segment_edit", args=[segment.pk]), data).status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.match, len(segment.rules)) == ("GB or FI", "any", 2)
    assert client.get(reverse("contacts:segment_delete", args=[segment.pk])).status_code == 200
    response = client.post(reverse("contacts:segment_delete", args=[segment.pk]))
    assert response.url == reverse("contacts:segments")
    assert not Segment.objects.exists() and Contact.objects.count() == 15


def test_the_live_preview_returns_the_count_and_a_sample(client, marketer_user, people):
    client.force_login(marketer_user)
    for n in range(12):
        ContactFactory(country="US", first_name=f"Extra{n}")
    response = client.post(
        reverse("contacts:segment_preview"), _form("", "all", [rule("country", "equals", "US")])
    )
    assert response.status_code == 200
    assert response.context["count"] == len(US) + 12
    sample = response.context["sample"]
    assert len(sample) == 10 and all(c.country == "US" for c in sample)
    assert 'data-testid="segment-count">19<' in response.text
    assert "Radia" not in response.text


def test_the_live_preview_explains_unfinished_rules(client, marketer_user, people):
    client.force_login(marketer_user)
    response = client.post(
        reverse("contacts:segment_preview"),
        _form("", "any", [rule("country", "equals", "GB"), rule("custom.renewal", "after", "")]),
    )
    assert response.status_code == 200
    assert response.context["problems"] == ["Rule 2: Enter a date."]
    assert "count" not in response.context


def test_the_segment_pages_survive_rules_that_broke_later(client, support_user, people):
    client.force_login(support_user)
    segment = Segment.objects.create(name="Plan", rules=[rule("custom.plan", "equals", "pro")])
    CustomField.objects.filter(key="plan").delete()
    index = client.get(reverse("contacts:segments"))
    assert index.status_code == 200 and "Needs fixing" in index.text
    detail = client.get(reverse("contacts:segment_detail", args=[segment.pk]))
    assert detail.status_code == 200
    assert "There is no custom field &#x27;plan&#x27;." in detail.text


def test_the_segment_list_shows_each_count(client, support_user, people):
    client.force_login(support_user)
    Segment.objects.create(name="GB", rules=[rule("country", "equals", "GB")])
    Segment.objects.create(name="Opted out", rules=[rule("consent", "opted_out")])
    response = client.get(reverse("contacts:segments"))
    assert [(r.segment.name, r.count) for r in response.context["rows"]] == [
        ("GB", 3),
        ("Opted out", 2),
    ]
    assert "Country is GB" in response.text
    assert reverse("contacts:segment_create") not in response.text  # support cannot build one


def test_support_can_view_segments_but_not_change_them(client, support_user, people):
    segment = Segment.objects.create(name="GB", rules=[rule("country", "equals", "GB")])
    client.force_login(support_user)
    assert client.get(reverse("contacts:segments")).status_code == 200
    assert client.get(reverse("contacts:segment_detail", args=[segment.pk])).status_code == 200
    data = _form("Mine", "all", [rule("country", "equals", "GB")])
    for url in [
        reverse("contacts:segment_create"),
        reverse("contacts:segment_edit", args=[segment.pk]),
        reverse("contacts:segment_delete", args=[segment.pk]),
    ]:
        assert client.get(url).status_code == 403
        assert client.post(url, data).status_code == 403
    assert client.post(reverse("contacts:segment_preview"), data).status_code == 403
    assert Segment.objects.get().name == "GB"


def test_anonymous_visitors_are_sent_to_sign_in(client, people):
    for url in [reverse("contacts:segments"), reverse("contacts:segment_create")]:
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    response = client.post(reverse("contacts:segment_preview"), {})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_marketers_and_admins_reach_the_editor(client, marketer_user, admin_user):
    for user in (marketer_user, admin_user):
        client.force_login(user)
        response = client.get(reverse("contacts:segment_create"))
        assert response.status_code == 200
        assert "rule-schema" in response.text
