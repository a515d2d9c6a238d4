import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from catalog.models import Genre
from tests.factories import VideoVectorFactory, random_vector

pytestmark = pytest.mark.django_db


def test_all_migrations_applied_and_models_match_them():
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    # Fails if a model changed without a migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_vector_extension_installed():
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    assert row is not None
    major, minor = (int(part) for part in row[0].split(".")[:2])
    assert (major, minor) >= (0, 8)


def test_product_genres_seeded():
    names = set(Genre.objects.values_list("name", flat=True))
    assert {"Blues", "Hip Hop", "Reggae", "Rock"} <= names
    assert Genre.objects.get(name="Hip Hop").slug == "hip-hop"


@pytest.mark.parametrize(
    ("operator", "index"), [("<->", "vv_code_l2_hnsw"), ("<=>", "vv_code_cos_hnsw")]
)
def test_hnsw_index_serves_knn_query(operator, index):
    for seed in range(50):
        VideoVectorFactory(audio=None, visual=None, code=random_vector(40, seed))
    query = "[" + ",".join(str(x) for x in random_vector(40, 999)) + "]"
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE search_videovector")
        # Tiny tables favour a sequential scan; we ask whether the index *can* serve the query.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT video_id FROM search_videovector "
            f"ORDER BY code {operator} %s::vector LIMIT 10",
            [query],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using {index}" in plan, plan
