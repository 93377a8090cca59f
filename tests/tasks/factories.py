import factory

from tasks.models import ContentTask

from ..factories import UserFactory


class ContentTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentTask

    topic = factory.Sequence(lambda n: f"Practical guide number {n} to sustainable gardening")
    keywords = factory.LazyFunction(lambda: ["compost", "soil health"])
    target_length = 300
    created_by = factory.SubFactory(UserFactory)
