"""`import_folder`: copy media files into MEDIA, one Video + one extraction job per new file."""

from __future__ import annotations

import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Genre, Video, VideoSource, VideoStatus
from catalog.services import ensure_product_genres, file_sha256
from mvsite.queues import get_queue

REAL_AUDIO = Path("/work/shared/data/real-audio")

pytestmark = pytest.mark.django_db


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    """A MEDIA_ROOT of this test's own, so we can assert on exactly what is in it."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def run_import(redis_conn, django_capture_on_commit_callbacks):
    """run_import(*args) -> (stdout, stderr); jobs enqueued on commit are really enqueued."""

    def run(*args: str) -> tuple[str, str]:
        out, err = StringIO(), StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            if "--process" not in args:
                args = (*args, "--process", "queue")  # as with a worker running
            call_command("import_folder", *map(str, args), stdout=out, stderr=err, verbosity=1)
        return out.getvalue(), err.getvalue()

    return run


def extract_jobs() -> list:
    return [
        job for job in get_queue("extract").jobs if job.meta.get("pipeline_stage") == "extracting"
    ]


def write(path: Path, data: bytes) -> Path:
    # Import doesn't decode media (extraction does): any bytes make a distinct "file".
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.skipif(not REAL_AUDIO.is_dir(), reason="needs the shared real-audio folder")
def test_real_audio_folder_genres_from_subdirs_then_nothing_new(media_root, run_import):
    ensure_product_genres()  # "hiphop" and "metal" join the product's Hip Hop and Metal
    genres_before = Genre.objects.count()

    out, err = run_import(REAL_AUDIO, "--genre-from-subdir")

    assert "Imported 54, duplicate 0, skipped 0, failed 0" in out, out + err
    videos = Video.objects.filter(source=VideoSource.LOCAL).select_related("genre")
    assert videos.count() == 54
    assert {v.genre.name for v in videos} == {
        "classical",
        "Hip Hop",
        "jungle",
        "Metal",
        "techno",
        "triphop",
    }
    assert Genre.objects.count() == genres_before + 4
    assert videos.filter(genre__name="classical").count() == len(
        list((REAL_AUDIO / "classical").iterdir())
    )
    dre = videos.get(original_filename="dr_dre_still_dre.wav")
    assert dre.title == "dr dre still dre" and dre.status == VideoStatus.EXTRACTING
    source = REAL_AUDIO / "hiphop" / "dr_dre_still_dre.wav"
    assert dre.content_sha256 == file_sha256(source)
    assert (media_root / dre.media.name).read_bytes() == source.read_bytes()
    assert sorted(job.args[0] for job in extract_jobs()) == sorted(v.pk for v in videos)

    again, _ = run_import(REAL_AUDIO, "--genre-from-subdir")

    assert "Imported 0, duplicate 54, skipped 0, failed 0" in again
    assert Video.objects.count() == 54 and len(extract_jobs()) == 54
    assert len(list((media_root / "videos").iterdir())) == 54  # no copies left behind


def test_mixed_folder_imports_media_only_and_dedupes(media_root, run_import, tmp_path):
    root = tmp_path / "incoming"
    clip = write(root / "My_Song.MP4", b"video bytes " * 100)
    write(root / "live" / "tune.wav", b"audio bytes " * 100)
    write(root / "live" / "same as my song.mkv", clip.read_bytes())
    write(root / "notes.txt", b"not media")
    write(root / "cover.JPG", b"not media either")

    out, _ = run_import(root, "--genre", "jazz")

    assert "Imported 2, duplicate 1, skipped 2, failed 0; genres: Jazz" in out
    assert "notes.txt" in out and "cover.JPG" in out
    assert "live/same as my song.mkv = video" in out
    song = Video.objects.get(original_filename="My_Song.MP4")
    assert (song.title, song.source, song.genre.name) == ("My Song", VideoSource.LOCAL, "Jazz")
    assert song.media.name.startswith("videos/My_Song-") and song.media.name.endswith(".mp4")
    assert (media_root / song.media.name).read_bytes() == clip.read_bytes()
    assert {job.args[0] for job in extract_jobs()} == set(
        Video.objects.values_list("pk", flat=True)
    )


def test_failed_file_leaves_no_row_no_file_and_no_job(
    media_root, run_import, tmp_path, monkeypatch
):
    root = tmp_path / "incoming"
    write(root / "a.mp3", b"first " * 50)
    write(root / "b.mp3", b"second " * 50)
    real_replace = os.replace

    def replace_failing_for_first(src, dst):
        if Path(dst).name.startswith("a-"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr("catalog.importing.os.replace", replace_failing_for_first)

    out, err = run_import(root)

    assert "Imported 1, duplicate 0, skipped 0, failed 1" in out
    assert "Failed: a.mp3: [Errno 28] No space left on device" in err
    [video] = Video.objects.all()
    assert video.original_filename == "b.mp3"
    assert [p.name for p in (media_root / "videos").iterdir()] == [Path(video.media.name).name]
    assert [job.args[0] for job in extract_jobs()] == [video.pk]


def test_unknown_genre_lists_existing_ones_unless_created(media_root, run_import, tmp_path):
    ensure_product_genres()
    write(tmp_path / "in" / "x.flac", b"flac-ish")
    with pytest.raises(
        CommandError, match=r"Unknown genre 'Polka'\. Known genres: .*Blues.*\. Use --create-genre"
    ):
        run_import(tmp_path / "in", "--genre", "Polka")
    assert Video.objects.count() == 0

    run_import(tmp_path / "in", "--genre", "Polka", "--create-genre")

    assert Video.objects.get().genre.name == "Polka"


def test_genre_names_match_loosely(media_root, run_import, tmp_path):
    ensure_product_genres()
    write(tmp_path / "in" / "x.ogg", b"ogg-ish")
    run_import(tmp_path / "in", "--genre", "hip-hop")
    assert Video.objects.get().genre.name == "Hip Hop"


def test_unusable_folder_is_a_clear_error(media_root, run_import, tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        run_import(tmp_path / "nowhere")
    with pytest.raises(CommandError, match="is not a directory"):
        run_import(write(tmp_path / "file.mp4", b"x"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_unreadable_folder_is_a_clear_error(media_root, run_import, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0)
    try:
        with pytest.raises(CommandError, match="not readable"):
            run_import(locked)
    finally:
        locked.chmod(0o700)
