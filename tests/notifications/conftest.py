import base64
import importlib
import json
import uuid

import pytest
from django.contrib.auth.models import Group
from django.test import TestCase

from contentpipeline.celery import app as celery_app
from contentpipeline.roles import EDITORS_GROUP

from ..factories import UserFactory


class QueuedWork:
    """Queues of the test's own (the pipeline's and the deliveries' beside it), and
    `run()`, which takes what waits there and runs it in this process, as a worker
    would: the registered task by its name, with its arguments, until none is left."""

    def __init__(self, settings) -> None:
        self.queue = f"work-{uuid.uuid4().hex[:8]}"
        settings.CELERY_TASK_DEFAULT_QUEUE = self.queue

    def _client(self, connection):
        return connection.default_channel.client

    def take(self) -> list[tuple[str, list]]:
        """Every message waiting, oldest first: (task name, args)."""
        taken = []
        with celery_app.connection_for_write() as connection:
            client = self._client(connection)
            for key in sorted(client.keys(f"{self.queue}*")):
                while (raw := client.rpop(key)) is not None:
                    message = json.loads(raw)
                    args = json.loads(base64.b64decode(message["body"]))[0]
                    taken.append((message["headers"]["task"], args))
        return taken

    def run(self) -> list[tuple[str, list, object]]:
        """Run what waits, and what that queues, until nothing is left; returns each
        (name, args, result)."""
        ran = []
        while work := self.take():
            for name, args in work:
                importlib.import_module(name.rsplit(".", 1)[0])  # registers it, as a worker does
                # Its on-commit work too: the test's transaction never commits.
                with TestCase.captureOnCommitCallbacks(execute=True):
                    result = celery_app.tasks[name].apply(args=args, throw=True).get()
                ran.append((name, args, result))
        return ran

    def close(self) -> None:
        self.take()


@pytest.fixture
def queued(settings):
    work = QueuedWork(settings)
    yield work
    work.close()


@pytest.fixture
def editors(db):
    """Three members of Editors: two with an address, one without."""
    group, _ = Group.objects.get_or_create(name=EDITORS_GROUP)
    people = [UserFactory(editor=True), UserFactory(editor=True), UserFactory(email="")]
    people[2].groups.add(group)
    return people
