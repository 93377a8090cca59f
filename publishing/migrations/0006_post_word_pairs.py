"""The pairs of lexemes side by side in each post's search vector, and a GIN index of
them, for phrases.

The GIN index of the vectors keeps no positions: for `"baseline measurement"` it finds
every post holding both words, which PostgreSQL then reads to check whether they are
side by side (about five times as many posts as have the phrase, on 100,000 generated
posts). The index of the pairs finds the posts where they are. The pairs are computed
from the stored vector itself, so they hold exactly the positions a phrase is matched
against (a vector keeps 256 positions a lexeme): a post with the phrase always has its
pairs, and search still checks the phrase itself on the posts the pairs find."""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
from django.db import migrations, models

WORD_PAIRS_FUNCTION = """
CREATE OR REPLACE FUNCTION publishing_word_pairs(vector tsvector) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT coalesce(array_agg(DISTINCT a.lexeme || ' ' || b.lexeme), '{}')
    FROM (SELECT lexeme, unnest(positions) AS position FROM unnest(vector)) AS a
    JOIN (SELECT lexeme, unnest(positions) AS position FROM unnest(vector)) AS b
        ON b.position = a.position + 1
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("publishing", "0005_title_trigram"),
    ]

    operations = [
        migrations.RunSQL(
            WORD_PAIRS_FUNCTION,
            reverse_sql="DROP FUNCTION IF EXISTS publishing_word_pairs(tsvector);",
        ),
        migrations.AddIndex(
            model_name="post",
            index=django.contrib.postgres.indexes.GinIndex(
                models.Func(
                    models.F("search_vector"),
                    function="publishing_word_pairs",
                    output_field=django.contrib.postgres.fields.ArrayField(
                        base_field=models.TextField(), size=None
                    ),
                ),
                name="post_word_pairs",
            ),
        ),
        # The planner's statistics of the pairs are gathered with the table's: until
        # then it would guess how many posts a phrase matches.
        migrations.RunSQL("ANALYZE publishing_post", reverse_sql=migrations.RunSQL.noop),
    ]
