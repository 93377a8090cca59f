"""First-start set-up for `make run`: a demo editor (a member of the Editors group that
the migrations create) and three demo tasks, each only when missing, the tasks only
with the offline providers (they cost nothing). Safe to run on every start."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from contentpipeline.roles import EDITORS_GROUP, SYSTEM_USERNAME
from tasks.models import ContentTask
from tasks.services import task_create

DEMO_TASKS = [
    {
        "topic": "How small teams can adopt continuous delivery",
        "keywords": ["continuous delivery", "deployment pipeline", "feature flags"],
        "style": "educational",
        "tone": "professional",
        "target_length": 700,
        "category": "Engineering",
    },
    {
        "topic": "Seven habits of effective remote writers",
        "keywords": ["remote work", "writing habits", "focus"],
        "style": "listicle",
        "tone": "casual",
        "target_length": 500,
        "category": "Writing",
    },
    {
        "topic": "What PostgreSQL full-text search can do for a content site",
        "keywords": ["postgresql", "full-text search", "ranking"],
        "style": "technical",
        "tone": "academic",
        "target_length": 900,
        "category": "Databases",
    },
]


class Command(BaseCommand):
    help = "Create a demo editor and demo tasks when missing."

    @transaction.atomic
    def handle(self, *args, **options):
        group, _ = Group.objects.get_or_create(name=EDITORS_GROUP)

        User = get_user_model()
        # The system user (made by a migration) is not somebody who set the site up.
        if User.objects.exclude(username=SYSTEM_USERNAME).exists():
            return
        password = secrets.token_urlsafe(12)
        editor = User.objects.create_user(
            username="editor", password=password, email="editor@example.com"
        )
        editor.groups.add(group)
        self.stdout.write(
            self.style.SUCCESS(f"Demo editor created: username 'editor', password '{password}'")
        )
        if ContentTask.objects.exists():
            return
        paid = sorted({*settings.LLM_CHAIN, *settings.IMAGE_CHAIN} - {"offline"})
        if paid:
            # A first start with a real key must not spend money nobody asked to spend.
            self.stdout.write(
                f"No demo tasks submitted: the providers include {', '.join(paid)}, which "
                "would be paid for. Create tasks yourself, or start with the offline ones."
            )
            return
        for spec in DEMO_TASKS:
            task_create(user=editor, **spec)
        self.stdout.write(f"Submitted {len(DEMO_TASKS)} demo tasks to the pipeline.")
