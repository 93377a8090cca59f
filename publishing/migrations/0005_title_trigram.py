"""pg_trgm and a trigram index on post titles, where the server has the extension.

Not every PostgreSQL has it: the embedded one `make test` starts (pgserver) ships only
plpgsql and vector. There the block notes it and does nothing, and search corrects typos
from the corpus' own words instead (publishing/search.py checks at run time). A role
that may not create the extension is treated the same way."""

from django.db import migrations

CREATE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        RAISE NOTICE 'pg_trgm is not available on this server: no trigram index on titles';
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'pg_trgm could not be created (%): no trigram index on titles', SQLERRM;
        RETURN;
    END;
    CREATE INDEX IF NOT EXISTS post_title_trgm
        ON publishing_post USING gin (title gin_trgm_ops);
END
$$;
"""

# The extension stays: other databases objects may have come to use it.
DROP = "DROP INDEX IF EXISTS post_title_trgm;"


class Migration(migrations.Migration):
    dependencies = [
        ("publishing", "0004_post_search_vector"),
    ]

    operations = [migrations.RunSQL(CREATE, reverse_sql=DROP)]
