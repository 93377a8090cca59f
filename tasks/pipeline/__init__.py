"""The AI generation domain: what turns a brief into a post's text and cover.

- `providers`: language-model and image providers chosen by name (`get_provider`):
  the OpenAI-compatible client and the offline writer and cover painter that need no
  network; `prices` turns their usage into cost.
- `stages`: research, draft, review, image and seo, one module each, run in order by
  the runner (tasks.runner).
- `sources`: fetches the pages a task names as sources, for the research stage.
- `outbound`: the one HTTP transport for calls to other servers (deadlines, the guard
  against private addresses); `ratelimit`: the model servers' rate limits, shared
  through Redis.
- `text` and `rendering`: word counts, Markdown stripping and the hash of the text
  under review; Markdown rendered to sanitized HTML.

It knows no model and imports nothing else of `tasks` (nor publishing or approvals):
Django's settings and utilities, the project's cache adapter (contentpipeline.cache)
and third-party libraries only. The runner hands it what a run needs (the brief, the
earlier outputs, the services of higher layers: `stages.StageJob`); the apps above
import it, never the other way round.
"""
