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
