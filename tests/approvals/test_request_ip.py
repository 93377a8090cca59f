"""A decision records the address of the editor's client, as the throttles and the login
lockout see it: with NUM_PROXIES reverse proxies in front, the address the nearest one
saw (not the proxy's own, which is every request's), and never what a client wrote in
X-Forwarded-For itself."""

import pytest
from django.test import Client

from approvals.models import ApprovalDecision
from tasks.runner import run_pipeline

from ..conftest import client_for
from ..tasks.factories import ContentTaskFactory
from .desk import bulk_decide, decide_at_desk

# The writing is not what these tests are about: QuickWriter writes (tests/fakes.py).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quick_writer")]

PROXY = "10.0.0.2"  # the socket's address behind a proxy: the proxy's


def drafted():
    task = ContentTaskFactory()
    assert run_pipeline(task.pk) == "done"
    return task


@pytest.fixture
def one_proxy(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


def decided_from(task) -> str | None:
    return ApprovalDecision.objects.get(task=task).request_ip


def test_behind_one_proxy_an_api_decision_records_the_address_the_proxy_saw(editor, one_proxy):
    task = drafted()
    # What the client wrote comes first; the proxy appends the address it saw.
    response = client_for(editor).post(
        f"/api/tasks/{task.pk}/approval", {"approved": True}, format="json",
        REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.9, 203.0.113.50",
    )  # fmt: skip
    assert response.status_code == 200
    assert decided_from(task) == "203.0.113.50"


def test_behind_one_proxy_a_review_desk_decision_records_the_address_the_proxy_saw(
    editor, one_proxy
):
    task, other = drafted(), drafted()
    desk = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.51")
    desk.force_login(editor)
    decide_at_desk(desk, task, decision="approve")
    assert decided_from(task) == "203.0.113.51"
    bulk_decide(desk, "approve_selected", [other])
    assert decided_from(other) == "203.0.113.51"


def test_with_no_proxy_a_forged_x_forwarded_for_is_not_recorded(editor):
    task = drafted()
    client_for(editor).post(
        f"/api/tasks/{task.pk}/approval", {"approved": True}, format="json",
        REMOTE_ADDR="198.51.100.23", HTTP_X_FORWARDED_FOR="203.0.113.66",
    )  # fmt: skip
    assert decided_from(task) == "198.51.100.23"


def test_a_proxy_that_passes_no_address_leaves_the_decision_recorded_without_one(editor, one_proxy):
    task = drafted()
    response = client_for(editor).post(
        f"/api/tasks/{task.pk}/approval", {"approved": True}, format="json",
        REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="unknown",
    )  # fmt: skip
    assert response.status_code == 200
    assert decided_from(task) is None
