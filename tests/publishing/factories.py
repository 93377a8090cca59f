import factory
from django.utils import timezone
from django.utils.text import slugify

from publishing.models import Post


class PostFactory(factory.django.DjangoModelFactory):
    """A published post written by hand, without a task behind it."""

    class Meta:
        model = Post

    title = factory.Sequence(lambda n: f"Notes from the garden, part {n}")
    slug = factory.LazyAttribute(lambda post: slugify(post.title))
    body_markdown = "Body"
    body_html = "<p>Body</p>"
    published_at = factory.LazyFunction(timezone.now)
