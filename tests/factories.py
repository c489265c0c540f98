import factory
from django.contrib.auth.models import User

from smsworks.roles import Role

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs) -> None:
        if create and extracted:
            from django.apps import apps
            from django.contrib.auth.models import Group

            from smsworks.roles import sync_roles

            if not Group.objects.filter(name=extracted).exists():
                # Transactional tests flush the tables the role migration filled.
                sync_roles(apps)
            self.groups.add(Group.objects.get(name=extracted))


def user_with_role(role: Role | None, **kwargs) -> User:
    return UserFactory(role=role.value if role else None, **kwargs)


class ProviderAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.ProviderAccount"

    name = factory.Sequence(lambda n: f"Provider {n}")
    backend = "smsworks"
    base_url = "http://127.0.0.1:9"
    credentials = factory.LazyFunction(lambda: {"jwt": "test-jwt-token-1234567890"})


class SenderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.Sender"

    account = factory.SubFactory(ProviderAccountFactory)
    kind = "long_number"
    value = factory.Sequence(lambda n: f"+4479111{n:05d}")
    label = factory.Sequence(lambda n: f"Line {n}")
    messages_per_second = 100


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "contacts.Contact"

    phone = factory.Sequence(lambda n: f"+4479112{n:05d}")
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Example"


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "messaging.Message"

    direction = "out"
    sender = factory.SubFactory(SenderFactory)
    account = factory.LazyAttribute(lambda m: m.sender.account)
    from_number = factory.LazyAttribute(lambda m: m.sender.value)
    to_number = factory.Sequence(lambda n: f"+4479113{n:05d}")
    body = "Hello from the tests"
    encoding = "GSM-7"
    segments = 1
    status = "queued"


class ContactListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "contacts.ContactList"

    name = factory.Sequence(lambda n: f"List {n}")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "campaigns.Campaign"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Campaign {n}")
    sender = factory.SubFactory(SenderFactory)
    body = "Hello {{ first_name | there }}, 20% off today."
    opt_out_footer = False

    @factory.post_generation
    def lists(self, create: bool, extracted, **kwargs) -> None:
        if create and extracted:
            self.lists.set(extracted)
