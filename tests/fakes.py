"""A fake OpenAI-compatible server on loopback: stage-aware answers, an optional delay
per call (to catch a run in the middle of a stage) and a switch to fail."""

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

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


def png_base64() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 120, 200)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


class FakeLLMServer:
    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.fail = False
        self.requests: list[tuple[str, dict]] = []
        server_state = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name is fixed by BaseHTTPRequestHandler
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server_state.requests.append((self.path, body))
                time.sleep(server_state.delay)
                if server_state.fail:
                    payload, status = {"error": {"message": "overloaded"}}, 500
                elif self.path.endswith("/images/generations"):
                    payload, status = {"data": [{"b64_json": png_base64()}]}, 200
                else:
                    prompt = body["messages"][-1]["content"]
                    content = next(v for k, v in REPLIES.items() if prompt.startswith(k))
                    usage = {"prompt_tokens": 100, "completion_tokens": 50}
                    choices = [{"message": {"content": content}}]
                    payload = {"model": body["model"], "usage": usage, "choices": choices}
                    status = 200
                raw = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    pass  # the client went away (a killed worker)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def env(self) -> dict[str, str]:
        """Environment that makes a worker process use this server."""
        return {
            "LLM_PROVIDER": "openai",
            "IMAGE_PROVIDER": "openai",
            "LLM_BASE_URL": self.base_url,
            "LLM_API_KEY": "test-key",
        }

    def __enter__(self) -> "FakeLLMServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
