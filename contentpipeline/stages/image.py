"""Image: a cover picture for the post, stored in the media storage."""

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from contentpipeline.providers import image_provider

from . import StageJob, StageOutput


def run(job: StageJob, context: dict) -> StageOutput:
    brief = job.brief
    title = context.get("draft", {}).get("title", brief.topic)
    prompt = (
        f"A clean editorial cover illustration for an article titled '{title}' "
        f"about {brief.topic}. No text in the image."
    )
    result = image_provider().generate_image(
        brief=brief, prompt=prompt, model=settings.IMAGE_MODEL, timeout=settings.LLM_TIMEOUT
    )
    # One file per task and generation: a re-run overwrites instead of piling up copies.
    name = f"covers/{job.name}.png"
    if default_storage.exists(name):
        default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(result.content))
    data = {"image_url": default_storage.url(saved), "path": saved}
    return StageOutput(data=data, model=result.model, cost=result.cost)
