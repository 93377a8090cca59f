"""The style guide in admin, as an editor (not a superuser, not staff) keeps it: one
guide, each save a version in its History, never a second guide, never deleted."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from contentpipeline.roles import EDITORS_GROUP
from tasks.models import StyleGuide
from tasks.selectors import style_guide_current

from ..factories import UserFactory

pytestmark = pytest.mark.django_db

FORM = {"banned_phrases": "", "max_sentence_words": "", "required_phrases": "",
        "model_rules": ""}  # fmt: skip


@pytest.fixture
def desk(editor) -> Client:
    assert not editor.is_superuser and not editor.is_staff
    client = Client()
    client.force_login(editor)
    return client


def test_an_editor_writes_the_guide_then_edits_it_and_each_save_is_a_version(desk, editor):
    changelist = reverse("admin:tasks_styleguide_changelist")
    add = desk.get(changelist)
    assert add.status_code == 302 and add["Location"] == reverse("admin:tasks_styleguide_add")
    response = desk.post(add["Location"], {**FORM, "banned_phrases": "synergy",
                                           "no_exclamation_marks": "on"})  # fmt: skip
    assert response.status_code == 302
    change = reverse("admin:tasks_styleguide_change", args=[1])
    assert desk.get(changelist)["Location"] == change
    # The one guide exists: there is no adding another.
    assert desk.get(reverse("admin:tasks_styleguide_add")).status_code == 403

    page = desk.get(change).content.decode()
    assert "synergy" in page
    response = desk.post(change, {**FORM, "banned_phrases": "synergy\nleverage",
                                  "max_sentence_words": "25",
                                  "model_rules": "Keep a warm tone"})  # fmt: skip
    assert response.status_code == 302
    rules = style_guide_current()
    assert (rules.version, rules.banned_phrases, rules.no_exclamation_marks,
            rules.max_sentence_words, rules.model_rules) == (
        2, ("synergy", "leverage"), False, 25, ("Keep a warm tone",),
    )  # fmt: skip

    history = desk.get(reverse("admin:tasks_styleguide_history", args=[1]))
    assert history.status_code == 200
    records = StyleGuide.history.order_by("history_date")
    assert [(r.version, r.history_user) for r in records] == [(1, editor), (2, editor)]
    for record in records:
        assert f"/admin/tasks/styleguide/1/history/{record.history_id}/" in history.content.decode()


def test_restoring_an_old_version_from_its_history_is_the_next_version(desk, editor):
    from tasks.services.style import style_guide_update

    style_guide_update(user=editor, banned_phrases="synergy")
    style_guide_update(user=editor, banned_phrases="leverage")
    first = StyleGuide.history.get(version=1)
    url = reverse("admin:tasks_styleguide_simple_history", args=[1, first.history_id])
    assert desk.post(url, {**FORM, "banned_phrases": "synergy"}).status_code == 302
    rules = style_guide_current()
    assert (rules.version, rules.banned_phrases) == (3, ("synergy",))


def test_the_guide_is_never_deleted(desk, editor):
    from tasks.services.style import style_guide_update

    style_guide_update(user=editor, banned_phrases="synergy")
    url = reverse("admin:tasks_styleguide_delete", args=[1])
    assert desk.post(url, {"post": "yes"}).status_code == 403
    assert StyleGuide.objects.filter(pk=1).exists()


def test_the_editors_group_holds_the_permissions_to_keep_the_guide():
    group = Group.objects.get(name=EDITORS_GROUP)  # made by the migrations
    held = set(group.permissions.values_list("codename", flat=True))
    assert {"view_styleguide", "change_styleguide", "view_historicalstyleguide"} <= held


def test_staff_who_are_not_editors_keep_no_guide_unless_granted_it():
    staff = UserFactory(is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(reverse("admin:tasks_styleguide_changelist")).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_styleguide"))
    staff = type(staff).objects.get(pk=staff.pk)  # its permissions read afresh
    client.force_login(staff)
    assert client.get(reverse("admin:tasks_styleguide_changelist")).status_code == 302
