"""Demo contacts: a few hundred people, two lists and a custom field."""

from __future__ import annotations

import random

from contacts import phone as phones
from contacts.models import Contact, ContactList, CustomField, ListMembership, Source

FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Linus",
    "Margaret",
    "Tim",
    "Barbara",
    "Dennis",
    "Frances",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Torvalds",
    "Hamilton",
    "Berners-Lee",
    "Liskov",
    "Ritchie",
    "Allen",
]
DEMO_SIZE = 300


def seed() -> list[str]:
    if Contact.objects.exists():
        return []
    rng = random.Random(2026)  # the same demo every time
    plan, _ = CustomField.objects.get_or_create(
        key="plan",
        defaults={
            "label": "Plan",
            "kind": CustomField.Kind.CHOICE,
            "choices": ["free", "pro", "team"],
        },
    )
    contacts = []
    for i in range(DEMO_SIZE):
        number = f"+4479123{i:05d}"
        contacts.append(
            Contact(
                phone=number,
                first_name=rng.choice(FIRST),
                last_name=rng.choice(LAST),
                email=f"person{i}@example.com" if i % 3 else "",
                country=phones.country_of(number),
                time_zone=phones.time_zone_of(number),
                source=Source.IMPORT,
                custom={plan.key: rng.choice(plan.choices)},
            )
        )
    Contact.objects.bulk_create(contacts)
    everyone = list(Contact.objects.order_by("id"))
    newsletter = ContactList.objects.create(name="Newsletter", description="Monthly offers")
    vip = ContactList.objects.create(name="VIP customers", description="Early access")
    ListMembership.objects.bulk_create(
        [ListMembership(contact_list=newsletter, contact=c) for c in everyone[:200]]
        + [ListMembership(contact_list=vip, contact=c) for c in everyone[::10]]
    )
    return [f"{DEMO_SIZE} demo contacts in lists 'Newsletter' and 'VIP customers'"]
