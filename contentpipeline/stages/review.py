"""Review: a quality score and feedback on the draft."""

from django.conf import settings

from contentpipeline.providers import llm_provider

from . import StageJob, StageOutput, clean_str_list, describe, model_for, parse_json_object


def run(job: StageJob, context: dict) -> StageOutput:
    brief = job.brief
    draft = context.get("draft", {})
    prompt = (
        "Review this draft against its brief. Answer with a JSON object with keys "
        '"quality_score" (integer 0-100), "qa_feedback" (string) and "issues" (list).\n\n'
        + describe(brief)
        + f"\n\nDraft title: {draft.get('title', '')}\n\n{draft.get('markdown', '')}"
    )
    completion = llm_provider().generate(
        stage="review",
        brief=brief,
        prompt=prompt,
        context=context,
        model=model_for(job),
        timeout=settings.LLM_TIMEOUT,
    )
    data = parse_json_object(completion.text, "review")
    try:
        score = int(data.get("quality_score", 0))
    except (TypeError, ValueError):
        score = 0
    result = {
        "quality_score": max(0, min(100, score)),
        "qa_feedback": str(data.get("qa_feedback", ""))[:2000],
        "issues": clean_str_list(data.get("issues"), limit=20, max_len=500),
    }
    return StageOutput.from_completion(result, completion)
