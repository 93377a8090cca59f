"""The pipeline with the `openai` providers, against a fake OpenAI-compatible server on
loopback (never the internet)."""

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from contentpipeline.pipeline import StageFailed, fail_task, run_pipeline
from tasks.models import StageRun
from tasks.selectors import task_result

from ..factories import ContentTaskFactory

pytestmark = pytest.mark.django_db

DRAFT = (
    "# Rain Barrels, Explained\n\nIntro about rain barrel use.\n\n"
    "## Why\n\n<script>x</script>Because."
)
REPLIES = {
    "Research the brief": json.dumps(
        {
            "angle": "Save water",
            "outline": ["Why", "How"],
            "key_points": ["a"],
            "audience_notes": "",
        }
    ),
    "Write the piece": DRAFT,
    "Review this draft": json.dumps({"quality_score": 140, "qa_feedback": "Fine", "issues": []}),
    "Write search metadata": json.dumps(
        {
            "seo_title": "T" * 90,
            "meta_description": "word " * 60,
            "tags": [f"Tag{i}" for i in range(14)],
            "excerpt": "About rain barrels.",
        }
    ),
}


def png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def fake_llm(settings):
    state = {"fail": False, "requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state["requests"].append((self.path, body))
            if state["fail"]:
                payload, status = {"error": {"message": "overloaded"}}, 500
            elif self.path.endswith("/images/generations"):
                payload, status = {"data": [{"b64_json": png()}]}, 200
            else:
                prompt = body["messages"][-1]["content"]
                content = next(v for k, v in REPLIES.items() if prompt.startswith(k))
                usage = {"prompt_tokens": 100, "completion_tokens": 50}
                payload = {"model": body["model"], "usage": usage,
                           "choices": [{"message": {"content": content}}]}  # fmt: skip
                status = 200
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    settings.LLM_PROVIDER = settings.IMAGE_PROVIDER = "openai"
    settings.LLM_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}/v1"
    settings.LLM_API_KEY = "test-key"
    settings.LLM_MODELS = {"fast": "gpt-4o-mini", "balanced": "gpt-4o-mini", "quality": "gpt-4o"}
    yield state
    server.shutdown()
    server.server_close()


def test_the_pipeline_uses_the_configured_model_and_cuts_output_to_limits(fake_llm):
    task = ContentTaskFactory(quality_preference="quality")
    assert run_pipeline(task.pk) == "done"
    task.refresh_from_db()
    result = task_result(task)
    assert result["title"] == "Rain Barrels, Explained"
    assert "<script>" not in result["body_html"]
    assert result["quality_score"] == 100
    assert len(result["seo_title"]) <= 60 and len(result["meta_description"]) <= 160
    assert len(result["tags"]) == 10 and all(tag == tag.lower() for tag in result["tags"])
    chat_models = {body["model"] for path, body in fake_llm["requests"] if "chat" in path}
    assert chat_models == {"gpt-4o"}
    draft_run = StageRun.objects.get(task=task, stage="draft")
    assert (draft_run.model, draft_run.tokens_in, draft_run.tokens_out) == ("gpt-4o", 100, 50)


def test_a_failing_provider_records_the_failed_attempt_and_keeps_the_task_running(fake_llm):
    fake_llm["fail"] = True
    task = ContentTaskFactory()
    with pytest.raises(StageFailed):
        run_pipeline(task.pk)
    failed = StageRun.objects.get(task=task, stage="research")
    assert failed.status == "failed" and "500" in failed.error
    task.refresh_from_db()
    assert task.status == "in_progress"

    # Celery retries with resume_running=True; once the provider recovers, it finishes.
    fake_llm["fail"] = False
    assert run_pipeline(task.pk, resume_running=True) == "done"
    runs = StageRun.objects.filter(task=task, stage="research").order_by("attempt")
    assert [(r.attempt, r.status) for r in runs] == [(1, "failed"), (2, "succeeded")]


def test_a_task_whose_retries_are_exhausted_is_failed_with_the_error(fake_llm):
    fake_llm["fail"] = True
    task = ContentTaskFactory()
    with pytest.raises(StageFailed) as exc:
        run_pipeline(task.pk)
    fail_task(task.pk, str(exc.value))
    task.refresh_from_db()
    assert task.status == "failed" and "research" in task.error
