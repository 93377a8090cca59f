"""Research: an angle, an outline and the key points the draft will cover."""

from django.conf import settings

from contentpipeline.providers import llm_provider

from . import StageJob, StageOutput, clean_str_list, describe, model_for, parse_json_object


def run(job: StageJob, context: dict) -> StageOutput:
    brief = job.brief
    prompt = (
        "Research the brief below for a writer. Answer with a JSON object with keys "
        '"angle" (string), "outline" (3 to 8 section headings), "key_points" (list of '
        'strings) and "audience_notes" (string).\n\n' + describe(brief)
    )
    completion = llm_provider().generate(
        stage="research",
        brief=brief,
        prompt=prompt,
        context=context,
        model=model_for(job),
        timeout=settings.LLM_TIMEOUT,
    )
    data = parse_json_object(completion.text, "research")
    result = {
        "angle": str(data.get("angle", ""))[:500],
        "outline": clean_str_list(data.get("outline"), limit=12),
        "key_points": clean_str_list(data.get("key_points"), limit=20, max_len=500),
        "audience_notes": str(data.get("audience_notes", ""))[:1000],
    }
    return StageOutput.from_completion(result, completion)
