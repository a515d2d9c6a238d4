"""Indexes for the tag search (search.tags.tag_search; docs/search.md, "Tag search") on the
tag vectors, features_videofeatures.music_tags:

- one btree per tag on its probability, so that each tag's most probable videos are read
  from an index instead of scanning every features row;
- one covering btree holding just the tag vectors, (music_model) INCLUDE (video_id,
  music_tags), which an index-only scan reads when the second statement must look at a large
  part of the catalog: 26 MB at 100k videos instead of the 155 MB of table pages that also
  hold the audio, visual and music means.

The features app writes that table; these indexes serve only the search app's reads, so they
live here. The per-tag expressions must read exactly as search.tags._value writes them. They
are not partial (WHERE music_tags IS NOT NULL): the planner only uses the statistics ANALYZE
gathers on an index expression when the index is not partial, and tag_search's second
statement needs them to see how few rows a probability range holds.
"""

from django.db import migrations

TAG_COUNT = 50  # features.models.MUSIC_TAG_COUNT when this was written (both checkpoints)
COVERING = "search_vf_tags_covering"


def _create(position: int) -> str:
    return (
        f"CREATE INDEX IF NOT EXISTS search_vf_tag_{position:02d} ON features_videofeatures "
        f"(((music_tags::real[])[{position + 1}]) DESC NULLS LAST)"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0004_search_settings_max_per_artist"),
        ("features", "0004_thumbnails"),
    ]

    operations = [
        migrations.RunSQL(_create(p), f"DROP INDEX IF EXISTS search_vf_tag_{p:02d}")
        for p in range(TAG_COUNT)
    ] + [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS {COVERING} ON features_videofeatures (music_model) "
            "INCLUDE (video_id, music_tags) WHERE music_tags IS NOT NULL",
            f"DROP INDEX IF EXISTS {COVERING}",
        )
    ]
