"""Factories for users, whom every app's tests need; each app's own models have theirs
beside its tests (tests/tasks/factories.py, ...)."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from contentpipeline.roles import EDITORS_GROUP, PUBLISHERS_GROUP


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

    @factory.post_generation
    def publisher(self, create, extracted, **kwargs):
        # A migration makes the group; a transactional test's flush may have emptied it.
        if create and extracted:
            group, _ = Group.objects.get_or_create(name=PUBLISHERS_GROUP)
            self.groups.add(group)


def token_for(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key
