"""The stored full-text vector of a post and its GIN index.

A generated column's expression must be IMMUTABLE. to_tsvector is, given an explicit
config; array_to_string is only STABLE (array output may depend on settings for some
element types, never for text), so the tags go through an IMMUTABLE SQL wrapper created
here, before the column that uses it."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

TAGS_TEXT_FUNCTION = """
CREATE OR REPLACE FUNCTION publishing_tags_text(tags text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT array_to_string(tags, ' ') $$;
"""

# Keep the vector in the row (compressed), and let the bodies go to the TOAST table
# first: ranking reads every candidate's vector, and a vector stored out of line costs
# a TOAST index lookup and fetch per row (measured: about 3x slower on 100k posts).
VECTOR_IN_ROW = "ALTER TABLE publishing_post ALTER COLUMN search_vector SET STORAGE MAIN;"


class Migration(migrations.Migration):
    dependencies = [
        ("publishing", "0003_fill_slugs"),
    ]

    operations = [
        migrations.RunSQL(
            TAGS_TEXT_FUNCTION,
            reverse_sql="DROP FUNCTION IF EXISTS publishing_tags_text(text[]);",
        ),
        migrations.AddField(
            model_name="post",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.search.CombinedSearchVector(
                    django.contrib.postgres.search.CombinedSearchVector(
                        django.contrib.postgres.search.CombinedSearchVector(
                            django.contrib.postgres.search.SearchVector(
                                "title", config="english", weight="A"
                            ),
                            "||",
                            django.contrib.postgres.search.SearchVector(
                                "excerpt", config="english", weight="B"
                            ),
                            django.contrib.postgres.search.SearchConfig("english"),
                        ),
                        "||",
                        django.contrib.postgres.search.SearchVector(
                            models.Func(
                                "tags",
                                function="publishing_tags_text",
                                output_field=models.TextField(),
                            ),
                            config="english",
                            weight="B",
                        ),
                        django.contrib.postgres.search.SearchConfig("english"),
                    ),
                    "||",
                    django.contrib.postgres.search.SearchVector(
                        "body_markdown", config="english", weight="C"
                    ),
                    django.contrib.postgres.search.SearchConfig("english"),
                ),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.RunSQL(VECTOR_IN_ROW, reverse_sql=migrations.RunSQL.noop),
        migrations.AddIndex(
            model_name="post",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_vector"], name="post_search_vector"
            ),
        ),
    ]
