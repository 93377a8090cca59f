"""The cursor of the services' hot statements: values bound by the server, wrapped
as Django wraps its own cursors."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.backends.postgresql.base import ServerBindingCursor
from django.test.utils import CaptureQueriesContext

from contentpipeline.database import bound_cursor

pytestmark = pytest.mark.django_db


def test_values_go_apart_from_the_text_and_come_back_as_sent():
    nasty = 'it\'s -- a "quote"; DROP TABLE x; \\ 🚀'
    with bound_cursor() as cursor:
        assert isinstance(cursor.cursor, ServerBindingCursor)
        cursor.execute("SELECT %s::text, %s::int", [nasty, 7])
        assert cursor.fetchone() == (nasty, 7)


def test_its_statements_are_in_the_query_log_and_its_errors_are_djangos():
    with CaptureQueriesContext(connection) as queries, bound_cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bound_probe (id int PRIMARY KEY)")
        cursor.execute("INSERT INTO bound_probe VALUES (%s)", [1])
    assert [query["sql"] for query in queries][-1].startswith("INSERT INTO bound_probe")
    with pytest.raises(IntegrityError), transaction.atomic(), bound_cursor() as cursor:
        cursor.execute("INSERT INTO bound_probe VALUES (%s)", [1])
