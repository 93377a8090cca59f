"""Factories for users, whom every app's tests need; each app's own models have theirs
beside its tests (tests/tasks/factories.py, ...)."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from contentpipeline.roles import EDITORS_GROUP


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "a-long-test-password")

    @factory.post_generation
    def editor(self, create, extracted, **kwargs):
        if create and extracted:
            group, _ = Group.objects.get_or_create(name=EDITORS_GROUP)
            self.groups.add(group)
        if create:
            self.save()


def token_for(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key
