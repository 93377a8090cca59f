"""`manage.py approval_decide TASK_ID --approve|--reject|--request-changes
[--feedback TEXT] [--publish-at ISO] [--expected-content-hash HASH]
[--acknowledge-unsupported] --as USER`: the decision the admin and the API make, from a
shell; the same service records it."""

import re

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from approvals.services import approval_decide
from contentpipeline.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Approve, reject or request changes to a draft awaiting approval, at the current "
        "step of its workflow, as a member of that step's group."
    )

    def add_arguments(self, parser):
        parser.add_argument("task_id")
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--approve", action="store_true")
        action.add_argument("--reject", action="store_true")
        action.add_argument("--request-changes", action="store_true")
        parser.add_argument("--feedback", default="")
        parser.add_argument("--publish-at", help="ISO 8601 date and time with a zone")
        parser.add_argument("--as", dest="username", required=True, help="the editor deciding")
        parser.add_argument(
            "--expected-content-hash",
            metavar="HASH",
            help="the draft's content_hash as you read it: decide only that text",
        )
        parser.add_argument(
            "--acknowledge-unsupported",
            action="store_true",
            help="approve although claims of the draft are unsupported by their sources "
            "(the decision records them)",
        )
        parser.add_argument(
            "--step",
            type=int,
            help="the workflow step you mean to decide: decide only if the draft is at it",
        )

    def handle(self, *args, task_id, approve, reject, request_changes, feedback, publish_at,
               username, expected_content_hash, acknowledge_unsupported, step=None,
               **options):  # fmt: skip
        reviewer = get_user_model().objects.filter(username=username).first()
        if reviewer is None:
            raise CommandError(f"No user named {username!r}.")
        when = None
        if publish_at:
            when = parse_datetime(publish_at)
            if when is None or when.tzinfo is None:
                raise CommandError("--publish-at takes an ISO 8601 date and time with a zone.")
        if expected_content_hash is not None:
            if not re.fullmatch(r"[0-9a-fA-F]{64}", expected_content_hash):
                raise CommandError("--expected-content-hash is 64 hexadecimal characters (sha256).")
            expected_content_hash = expected_content_hash.lower()
        try:
            record, post = approval_decide(
                task_id=task_id,
                reviewer=reviewer,
                approved=approve,
                feedback=feedback,
                publish_at=when,
                regenerate=request_changes,
                expected_content_hash=expected_content_hash,
                acknowledge_unsupported=acknowledge_unsupported,
                step=step,
            )
        except ApplicationError as exc:
            message = exc.message.replace("`acknowledge_unsupported`", "--acknowledge-unsupported")
            if current := exc.extra.get("content_hash"):
                message += f" Its content hash is now {current}."
            for claim in exc.extra.get("claims", []):
                message += f"\n  [{claim['source']}] {claim['sentence']} ({claim['reason']})"
            raise CommandError(message) from exc
        self.stdout.write(
            f"{record.decision}: task {record.task_id} by {reviewer}"
            f" at step {record.step} ({record.step_name or 'Editors'})"
        )
        if post is not None:
            self.stdout.write(f"post {post.slug} at {post.published_at.isoformat()}")
