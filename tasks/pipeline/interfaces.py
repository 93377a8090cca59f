"""What generation needs from the apps above it, declared here as small interfaces.

The pipeline sits below every app that owns data of its own, so it cannot import
them. Each need is a Protocol in this module; the app that can meet it provides it
once, at start-up, in its `AppConfig.ready()`, through this module's `provide_...`
function; the runner (tasks.runner.job_for) reads what was provided into each run's
StageJob, and a stage uses only what its job hands it.

Provided at start-up:
- `RelatedPosts`, by publishing (publishing/apps.py:
  `publishing.selectors.related_posts_for_brief`), for the research stage's internal
  links.

Until an app provides one, a need is met by a stand-in that offers nothing, so the
pipeline also runs without the apps above it.
"""

from typing import Protocol

from .providers import Brief


class RelatedPosts(Protocol):
    """Published posts a draft about `brief` may link to: [{"title", "url"}] with
    site-relative URLs ("/posts/<slug>/"), best first. The research stage keeps at
    most a few, drops what is not site-relative, and treats a failure as no links."""

    def __call__(self, brief: Brief, /) -> list[dict[str, str]]: ...


def no_related_posts(brief: Brief, /) -> list[dict[str, str]]:
    """The stand-in until an app provides RelatedPosts: nothing to link to."""
    return []


_related_posts: RelatedPosts = no_related_posts


def provide_related_posts(finder: RelatedPosts) -> None:
    """Make `finder` the pipeline's RelatedPosts, from the providing app's
    `AppConfig.ready()`. Providing again replaces the one before."""
    global _related_posts
    _related_posts = finder


def related_posts() -> RelatedPosts:
    """The RelatedPosts provided (no_related_posts when none was): the runner hands it
    to the stages in each run's StageJob."""
    return _related_posts
