"""`import_metadata`: CSV rows -> videos' titles/genres and TrackMetadata marked "import"."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.models import TrackMetadata, Video
from catalog.services import ensure_product_genres
from tests.factories import TrackMetadataFactory, VideoFactory

pytestmark = pytest.mark.django_db

HEADER = "file,youtube_id,title,artist,genre,energy,tempo,loudness,spotify_id,bpm\n"


def run(path: Path) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_metadata", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def write_csv(tmp_path: Path, text: str, name: str = "meta.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def videos():
    ensure_product_genres()
    song = VideoFactory(original_filename="song.wav", title="song", artist="")
    clip = TrackMetadataFactory(
        video=VideoFactory(youtube_id="abcdefghijk"), tempo=100.0, energy=0.5
    ).video
    return song, clip


def test_good_rows_are_kept_and_bad_rows_reported_by_line(tmp_path, videos):
    song, clip = videos
    path = write_csv(
        tmp_path,
        HEADER
        + "\n".join(
            [
                "incoming/song.wav,,New Title,New Artist,jazz,0.7,128,-5.5,sp1,99",  # 2: good
                ",abcdefghijk,,,,,90,,,",  # 3: good, tempo only
                "missing.wav,,,,,0.5,,,,",  # 4: unknown video
                "song.wav,,,,,1.7,,,,",  # 5: out of range
                'song.wav,,"Changed, but",,,0.3,fast,,,',  # 6: not a number: no change at all
                "song.wav,,,,Polka,,,,,",  # 7: unknown genre
                ",,,,,,,,,",  # 8: blank
                ",nosuchvideo,,,,0.1,,,,",  # 9: unknown YouTube id
            ]
        )
        + "\n",
    )

    out, err = run(path)

    assert "Updated 2 video(s), skipped 5 bad row(s), 1 blank" in out
    assert "Ignored unknown column(s): bpm" in err
    assert "Line 4: no catalog video imported from a file named 'missing.wav'" in err
    assert "Line 5: energy 1.7 is out of range (0 to 1)" in err
    assert "Line 6: tempo 'fast' is not a number" in err
    assert "Line 7: Unknown genre 'Polka'. Known genres: Blues, Country" in err
    assert "Line 9: no catalog video with youtube_id 'nosuchvideo'" in err
    assert "Line 2" not in err and "Line 3" not in err and "Line 8" not in err

    song.refresh_from_db()
    assert (song.title, song.artist, song.genre.name) == ("New Title", "New Artist", "Jazz")
    meta = song.metadata
    assert (meta.energy, meta.tempo, meta.loudness, meta.spotify_id) == (0.7, 128.0, -5.5, "sp1")
    assert meta.sources == {"energy": "import", "tempo": "import", "loudness": "import"}
    clip_meta = TrackMetadata.objects.get(video=clip)
    assert (clip_meta.tempo, clip_meta.energy) == (90.0, 0.5)  # empty cell: value kept
    assert clip_meta.sources == {"tempo": "import", "energy": "spotify"}


def test_spotify_id_of_another_video_is_a_bad_row(tmp_path, videos):
    song, clip = videos
    TrackMetadata.objects.filter(video=clip).update(spotify_id="taken")
    out, err = run(write_csv(tmp_path, "file,spotify_id,energy\nsong.wav,taken,0.2\n"))
    assert f"Line 2: spotify_id taken already belongs to video {clip.pk}" in err
    assert not TrackMetadata.objects.filter(video=song).exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("absent.csv", None, "does not exist"),
        ("meta.txt", b"file,energy\n", r"is not a CSV file \(expected a \.csv name\)"),
        ("meta.csv", b"\xff\xfe\x00binary\x00", "is not a UTF-8 text CSV file"),
        ("meta.csv", b"", "is empty: expected a header row"),
        ("meta.csv", b"title,energy\nA,0.5\n", r"no key column: .*'file' or a 'youtube_id'"),
    ],
)
def test_unusable_file_is_a_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        run(path)
    assert not Video.objects.exists()
