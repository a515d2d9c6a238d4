"""Thumbnails: a poster and one picture per segment, from the frames extraction decodes anyway
(features/thumbnails.py, features.services, manage.py thumbnails)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from features import thumbnails
from features.extraction import extract_file
from features.media import UnreadableMedia
from features.models import Segment, VideoFeatures
from features.services import extract_video_features, make_thumbnails, store_extraction
from tests.factories import VideoFactory
from tests.mediagen import make_audio, make_video

MAX_BYTES = 12_000  # "a few KB": 160 px segment pictures are ~1-3 KB, the 256 px poster ~3-8 KB


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MUSIC_EMBEDDINGS = False  # no TensorFlow here
    (tmp_path / "media" / "videos").mkdir(parents=True)
    return tmp_path / "media"


def thumb_files(root: Path) -> set[str]:
    base = root / thumbnails.THUMB_DIR
    return (
        {str(p.relative_to(root)) for p in base.rglob("*") if p.is_file()}
        if base.exists()
        else set()
    )


def catalog_video(root: Path, name: str, make) -> object:
    make(root / "videos" / name)
    return VideoFactory(pending=True, title=name, media=f"videos/{name}")


def assert_picture(path: Path, width: int) -> np.ndarray:
    data = path.read_bytes()
    assert 0 < len(data) <= MAX_BYTES, f"{path.name}: {len(data)} bytes"
    image = thumbnails.decode(data)
    assert image is not None, f"{path.name} does not decode"
    assert image.shape[1] == width and image.shape[2] == 3
    return image


# --- without the database --------------------------------------------------------------------


def test_extraction_keeps_one_picture_per_segment_and_a_poster(media) -> None:
    r = extract_file(media("tone25"))
    assert len(r.segments) == 3
    for s in r.segments:
        assert s.thumbnail is not None
        image = thumbnails.decode(s.thumbnail)
        assert image.shape == (90, 160, 3) and len(s.thumbnail) <= MAX_BYTES
    poster = thumbnails.decode(r.poster)
    assert poster.shape == (144, 256, 3)  # the decoded frame size, 16:9
    assert 0 <= r.thumbnail_seconds < r.total_seconds


def test_thumbnails_off_gives_none(media) -> None:
    r = extract_file(media("tone3"), thumbnails=False)
    assert r.poster is None and all(s.thumbnail is None for s in r.segments)
    assert r.thumbnail_seconds == 0.0


def test_the_segment_picture_is_its_middle_frame(media) -> None:
    # solid red: every frame is red, so the picture is red too (WebP keeps the colour)
    r = extract_file(media("red"))
    image = thumbnails.decode(r.segments[0].thumbnail).astype(int)
    r_, g, b = image[..., 0].mean(), image[..., 1].mean(), image[..., 2].mean()
    assert r_ > 200 and g < 60 and b < 60
    assert thumbnails.middle_time(0.0, 10.0, 2.0) == 5.0
    assert thumbnails.middle_time(20.0, 25.0, 2.0) == 22.5
    frames = np.arange(20).reshape(20, 1, 1, 1) * np.ones((1, 2, 2, 3), np.uint8)
    assert thumbnails.middle_frame(frames)[0, 0, 0] == 10  # t = 5.0 s of a 0..9.5 s segment


def test_poster_prefers_a_colourful_frame_over_a_black_one() -> None:
    black = np.zeros((144, 256, 3), np.uint8)
    bars = np.zeros((144, 256, 3), np.uint8)
    bars[:, :128] = (255, 0, 0)
    bars[:, 128:] = (0, 0, 255)
    assert thumbnails.frame_score(bars) > thumbnails.frame_score(black)
    poster = thumbnails.decode(thumbnails.pick_poster([(0.0, black), (10.0, bars)], 60.0))
    assert poster.mean() > 40
    # only the first third counts (after the first segment): a late colourful frame loses
    late = thumbnails.decode(thumbnails.pick_poster([(0.0, black), (50.0, bars)], 60.0))
    assert late.mean() < 10


def test_audio_only_gets_a_waveform(media) -> None:
    r = extract_file(media("a24.wav"))
    assert not r.has_video
    poster = thumbnails.decode(r.poster)
    assert poster.shape == (144, 256, 3)
    assert (poster == thumbnails.WAVE_BACKGROUND).all(axis=2).mean() < 0.9  # something drawn
    for s in r.segments:
        assert thumbnails.decode(s.thumbnail).shape == (90, 160, 3)


def test_waveform_of_silence_is_a_flat_line() -> None:
    image = thumbnails.waveform(thumbnails.envelope(np.zeros(22050, np.int16), 160))
    drawn = (image == thumbnails.WAVE_COLOUR).all(axis=2)
    assert drawn.any() and drawn.sum(axis=0).max() <= 2


def test_staging_publish_and_discard(tmp_path) -> None:
    staged = thumbnails.stage(tmp_path, 7, b"poster", {0: b"a", 1: b"b"})
    assert thumb_files(tmp_path) == {
        f"thumbs/7/{staged.staging.name}/{n}"
        for n in ("poster.webp", "seg-0000.webp", "seg-0001.webp")
    }
    staged.publish()
    assert thumb_files(tmp_path) == {
        "thumbs/7/poster.webp",
        "thumbs/7/seg-0000.webp",
        "thumbs/7/seg-0001.webp",
    }
    again = thumbnails.stage(tmp_path, 7, b"poster2", {0: b"c"})
    again.publish()  # the old segment 1 goes with the old set
    assert thumb_files(tmp_path) == {"thumbs/7/poster.webp", "thumbs/7/seg-0000.webp"}
    assert (tmp_path / "thumbs/7/poster.webp").read_bytes() == b"poster2"
    thumbnails.stage(tmp_path, 7, b"x", {}).discard()
    assert thumb_files(tmp_path) == {"thumbs/7/poster.webp", "thumbs/7/seg-0000.webp"}


# --- extraction stage, database and files ----------------------------------------------------


@pytest.mark.django_db
def test_every_extracted_video_with_a_picture_has_thumbnails(media_root) -> None:
    video = catalog_video(media_root, "v.mp4", lambda p: make_video(p, 25, size="640x360"))
    extract_video_features(video.pk)
    features = VideoFeatures.objects.get(video=video)
    assert features.poster == f"thumbs/{video.pk}/poster.webp"
    assert_picture(media_root / features.poster, thumbnails.POSTER_WIDTH)
    names = list(
        Segment.objects.filter(video=video).order_by("index").values_list("thumbnail", flat=True)
    )
    assert names == [f"thumbs/{video.pk}/seg-{i:04d}.webp" for i in range(3)]
    for name in names:
        assert_picture(media_root / name, thumbnails.THUMB_WIDTH)
    assert thumb_files(media_root) == {features.poster, *names}  # nothing staged is left


@pytest.mark.django_db
def test_audio_only_video_gets_the_waveform_placeholder(media_root) -> None:
    video = catalog_video(media_root, "a.wav", lambda p: make_audio(p, 12))
    extract_video_features(video.pk)
    video.refresh_from_db()
    assert video.has_video is False
    poster = VideoFeatures.objects.get(video=video).poster
    image = assert_picture(media_root / poster, thumbnails.POSTER_WIDTH)
    assert (image.reshape(-1, 3).mean(axis=0) > 20).any()


@pytest.mark.django_db
def test_failed_extraction_leaves_no_thumbnail(media_root) -> None:
    video = catalog_video(media_root, "bad.mp4", lambda p: p.write_text("not a video"))
    with pytest.raises(UnreadableMedia):
        extract_video_features(video.pk)
    assert thumb_files(media_root) == set()
    assert not (media_root / thumbnails.THUMB_DIR).exists() or not any(
        (media_root / thumbnails.THUMB_DIR).iterdir()
    )


@pytest.mark.django_db
def test_a_failure_while_storing_discards_the_new_thumbnails(
    media_root, media, monkeypatch
) -> None:
    video = catalog_video(media_root, "v.mp4", lambda p: make_video(p, 6))
    result = extract_file(media_root / "videos" / "v.mp4")

    def boom(*args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr("features.services.record_media_facts", boom)
    with pytest.raises(RuntimeError):
        store_extraction(video.pk, result)
    assert thumb_files(media_root) == set()
    assert not Segment.objects.filter(video=video).exists()


@pytest.mark.django_db
def test_reextraction_without_thumbnails_removes_the_old_ones(media_root) -> None:
    video = catalog_video(media_root, "v.mp4", lambda p: make_video(p, 6))
    extract_video_features(video.pk)
    assert thumb_files(media_root)
    store_extraction(video.pk, extract_file(media_root / "videos/v.mp4", thumbnails=False))
    assert thumb_files(media_root) == set()
    assert VideoFeatures.objects.get(video=video).poster == ""


@pytest.mark.django_db
def test_command_fills_a_video_extracted_without_them(media_root, capsys) -> None:
    video = catalog_video(media_root, "v.mp4", lambda p: make_video(p, 25, size="320x180"))
    audio = catalog_video(media_root, "a.wav", lambda p: make_audio(p, 12))
    for v in (video, audio):
        path = media_root / v.media.name
        store_extraction(v.pk, extract_file(path, thumbnails=False))
    assert thumb_files(media_root) == set()

    call_command("thumbnails", "--pending", verbosity=0)
    out = capsys.readouterr().out
    assert "thumbnails: 2 video(s) done (4 segment pictures" in out and "0 failed" in out
    features = VideoFeatures.objects.get(video=video)
    assert features.poster == f"thumbs/{video.pk}/poster.webp"
    assert_picture(media_root / features.poster, thumbnails.POSTER_WIDTH)
    for name in Segment.objects.filter(video=video).values_list("thumbnail", flat=True):
        assert_picture(media_root / name, thumbnails.THUMB_WIDTH)
    assert_picture(media_root / VideoFeatures.objects.get(video=audio).poster, 256)

    call_command("thumbnails", "--pending", verbosity=0)
    assert "no video needs thumbnails" in capsys.readouterr().out
    os.remove(media_root / features.poster)  # a lost file counts as pending again
    call_command("thumbnails", "--pending", verbosity=0)
    assert "1 video(s) done" in capsys.readouterr().out


@pytest.mark.django_db
def test_command_rejects_bad_ids(media_root) -> None:
    with pytest.raises(CommandError, match="no video with id 999999"):
        call_command("thumbnails", "--video", "999999")
    pending = VideoFactory(pending=True)
    with pytest.raises(CommandError, match=f"video {pending.pk} is not extracted yet"):
        call_command("thumbnails", "--video", str(pending.pk))
    with pytest.raises(CommandError):
        call_command("thumbnails")  # one of --pending / --all / --video


@pytest.mark.django_db
def test_make_thumbnails_of_a_video_not_extracted(media_root) -> None:
    video = catalog_video(media_root, "v.mp4", lambda p: make_video(p, 3))
    with pytest.raises(ValueError, match="extract it first"):
        make_thumbnails(video.pk)


@pytest.mark.django_db
def test_prune_removes_folders_of_deleted_videos(media_root, capsys) -> None:
    video = catalog_video(media_root, "v.mp4", lambda p: make_video(p, 3))
    extract_video_features(video.pk)
    (media_root / "thumbs" / "999999").mkdir()
    (media_root / "thumbs" / "999999" / "poster.webp").write_bytes(b"x")
    call_command("thumbnails", "--pending", "--prune", verbosity=0)
    assert "pruned 1 thumbnail folder" in capsys.readouterr().out
    assert not (media_root / "thumbs" / "999999").exists()
    assert (media_root / f"thumbs/{video.pk}/poster.webp").exists()
