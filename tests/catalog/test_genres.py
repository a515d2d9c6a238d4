"""One genre lookup: names match on the slug everywhere, one UnknownGenre lists the known ones."""

from __future__ import annotations

import importlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from catalog import ingest
from catalog.demo import demo_genre
from catalog.genres import UnknownGenre, genre_slug
from catalog.models import Genre, Video
from catalog.selectors import genre_by_name
from catalog.services import ensure_product_genres, genre_named

pytestmark = pytest.mark.django_db

VARIANTS = ["Hip Hop", "hip-hop", "hip_hop", "HIP HOP", "  hip   hop ", "hiphop", "Hip-Hop"]


@pytest.fixture(autouse=True)
def product_genres():
    ensure_product_genres()


@pytest.mark.parametrize("name", VARIANTS)
def test_every_spelling_names_the_same_genre(name):
    assert genre_by_name(name) == Genre.objects.get(name="Hip Hop")
    assert genre_slug(name) in ("hip-hop", "hiphop")


@pytest.mark.parametrize("name", VARIANTS)
def test_the_same_name_works_for_import_folder_ingest_and_the_demo(name, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.ogg").write_bytes(b"ogg-ish " + name.encode())
    call_command(
        "import_folder", str(tmp_path / "in"), "--genre", name, "--process", "none",
        stdout=StringIO(),
    )  # fmt: skip
    assert Video.objects.get().genre.name == "Hip Hop"
    assert ingest.resolve_genre_names([name, "Jazz"]) == ["Hip Hop", "Jazz"]  # ingest --genres
    assert demo_genre(name) == "Hip Hop"  # demo_catalog --genres (test_demo_catalog_command)


def test_unknown_genre_lists_the_known_genres():
    with pytest.raises(UnknownGenre) as info:
        genre_by_name("Polka")
    message = str(info.value)
    assert message.startswith("Unknown genre 'Polka'. Known genres: Blues, Country, Hip Hop")
    assert info.value.name == "Polka" and "Rock" in info.value.known
    with pytest.raises(UnknownGenre, match=r"^No genre given\. Known genres: Blues"):
        genre_named("  ")
    with pytest.raises(UnknownGenre, match=r"^Unknown genre ' -_ '"):
        genre_named(" -_ ")  # nothing to make a slug of: never created


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("import_folder", ["{tmp}", "--genre", "Polka", "--process", "none"]),
        ("ingest", ["--genres", "Blues,Polka", "--dry-run"]),
        ("demo_catalog", ["--genres", "Blues,Polka", "--process", "none"]),
    ],
)
def test_every_command_reports_an_unknown_genre_the_same_way(command, args, tmp_path):
    args = [arg.format(tmp=tmp_path) for arg in args]
    with pytest.raises(CommandError, match=r"^Unknown genre 'Polka'\. Known genres: Blues, "):
        call_command(command, *args, stdout=StringIO(), stderr=StringIO())
    assert not Video.objects.exists()


def test_demo_knows_only_the_genres_it_has_a_style_for():
    Genre.objects.create(name="Polka")
    assert genre_by_name("polka").name == "Polka"
    with pytest.raises(UnknownGenre) as info:
        demo_genre("polka")
    assert "Polka" not in info.value.known and "Hip Hop" in info.value.known


def test_create_makes_a_genre_that_later_spellings_find():
    created = genre_named("Sea_Shanty")
    assert (created.name, created.slug) == ("Sea_Shanty", "sea-shanty")
    assert genre_named("sea shanty") == created
    assert genre_by_name("SEA-SHANTY") == created
    assert Genre.objects.filter(slug="sea-shanty").count() == 1


def test_slug_follows_the_name():
    genre = Genre.objects.create(name="Drum_and_Bass")
    assert genre.slug == "drum-and-bass"
    genre.name = "Drum n Bass"
    genre.save(update_fields=["name"])
    genre.refresh_from_db()
    assert genre.slug == "drum-n-bass" and genre_by_name("drum_n_bass") == genre


def test_the_data_migration_uses_the_same_rule():
    migration = importlib.import_module("catalog.migrations.0004_genre_slug_rule")
    for name in [*VARIANTS, "Drum_and_Bass", "R&B", "Música Popular", "K-Pop"]:
        assert migration.slug_of(name) == genre_slug(name)


def test_a_form_rejects_another_spelling_of_a_genre():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="That is the genre 'Hip Hop'"):
        Genre(name="hip_hop").full_clean()
    Genre(name="Polka").full_clean()
