"""Image: a cover picture for the post, stored in the media storage."""

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from . import StageJob, StageOutput, current_draft
from .calls import draw


def run(job: StageJob, context: dict) -> StageOutput:
    brief = job.brief
    title = current_draft(context).get("title", brief.topic)
    prompt = (
        f"A clean editorial cover illustration for an article titled '{title}' "
        f"about {brief.topic}. No text in the image."
    )
    output = StageOutput()
    result = draw(job, prompt=prompt, output=output)
    # One file per task and generation: a re-run overwrites instead of piling up copies.
    name = f"covers/{job.name}.png"
    if default_storage.exists(name):
        default_storage.delete(name)
    saved = default_storage.save(name, ContentFile(result.content))
    output.data = {"image_url": default_storage.url(saved), "path": saved}
    return output
