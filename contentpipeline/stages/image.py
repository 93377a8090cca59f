"""Image: a cover picture for the post, stored in the media storage."""

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from contentpipeline.providers import image_provider

from . import StageOutput, brief_for


def run(task, context: dict) -> StageOutput:
    brief = brief_for(task)
    title = context.get("draft", {}).get("title", task.topic)
    prompt = (
        f"A clean editorial cover illustration for an article titled '{title}' "
        f"about {task.topic}. No text in the image."
    )
    result = image_provider().generate_image(
        brief=brief, prompt=prompt, model=settings.IMAGE_MODEL, timeout=settings.LLM_TIMEOUT
    )
    # One file per task and generation: a re-run overwrites instead of piling up copies.
    name = f"covers/{task.id}-g{task.generation}.png"
    if default_storage.exists(name):
        default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(result.content))
    data = {"image_url": default_storage.url(saved), "path": saved}
    return StageOutput(data=data, model=result.model, cost=result.cost)
