"""Bad or unusual media: each gives its documented outcome (docs/features.md, "Bad media")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from features.extraction import extract_file
from features.media import (
    EmptyFile,
    MediaError,
    MediaTooLong,
    NoStreams,
    UnreadableMedia,
)
from tests.mediagen import make_video, run_ffmpeg


def _cut_in_half(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(EmptyFile, match="empty"):
        extract_file(path)
    assert issubclass(EmptyFile, UnreadableMedia) and issubclass(UnreadableMedia, MediaError)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnreadableMedia, match="not found"):
        extract_file(tmp_path / "nope.mp4")


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("these are my lecture notes, not a video\n" * 50)
    with pytest.raises(UnreadableMedia, match="not a media file ffmpeg can read"):
        extract_file(path)


def test_truncated_mp4_with_index_at_the_end(media, tmp_path: Path) -> None:
    # ffmpeg writes the moov index last: half a file has no index at all
    half = _cut_in_half(media("long12"), tmp_path / "half.mp4")
    with pytest.raises(UnreadableMedia, match="truncated"):
        extract_file(half)


def test_truncated_faststart_mp4_keeps_what_decodes(media, tmp_path: Path) -> None:
    fast = tmp_path / "fast.mp4"
    run_ffmpeg(["-i", str(media("long12")), "-c", "copy", "-movflags", "+faststart", str(fast)])
    r = extract_file(_cut_in_half(fast, tmp_path / "fast_half.mp4"))
    assert 4.0 < r.duration < 8.0  # about half of the 12 s
    assert len(r.segments) == 1 and r.has_audio and r.has_video
    assert any("truncated" in w for w in r.warnings)


def test_video_without_audio(extracted) -> None:
    r = extracted("noaudio")
    assert not r.has_audio and r.has_video
    for s in r.segments:
        assert not s.audio.any() and s.visual.any()


@pytest.mark.parametrize("name", ["a6.wav", "a6.mp3", "a6.ogg", "a6.flac", "cover.mp3"])
def test_audio_only_files(extracted, name: str) -> None:
    r = extracted(name)
    assert r.has_audio and not r.has_video  # mp3 cover art is not a video
    assert r.frames == 0
    assert len(r.segments) == 1 and r.segments[0].end == pytest.approx(6.0, abs=0.1)
    for s in r.segments:
        assert not s.visual.any()
        assert s.audio[1] == pytest.approx(0.5, rel=0.05)  # energy of a peak-normalised sine
        assert np.count_nonzero(s.audio) > 20


def test_audio_formats_agree(extracted) -> None:
    # the same 440 Hz tone in four containers/codecs gives nearly the same features
    ref = extracted("a6.wav").segments[0].audio
    # zcr, energy, centroid, rolloff means (MFCCs differ: lossy codecs raise the noise floor)
    key = [0, 1, 3, 7]
    for name in ("a6.flac", "a6.mp3", "a6.ogg"):
        other = extracted(name).segments[0].audio
        np.testing.assert_allclose(other[key], ref[key], rtol=0.05, err_msg=name)


def test_too_long_is_rejected_before_decoding(media) -> None:
    with pytest.raises(MediaTooLong, match=r"0:12 long; the limit is 0:05"):
        extract_file(media("long12"), max_duration=5.0)


def test_too_long_without_known_duration(media, tmp_path: Path) -> None:
    raw = tmp_path / "raw.h264"  # an elementary stream: ffmpeg reports "Duration: N/A"
    run_ffmpeg(["-i", str(media("long12")), "-c:v", "copy", "-an", "-f", "h264", str(raw)])
    with pytest.raises(MediaTooLong, match="longer than the limit"):
        extract_file(raw, max_duration=5.0)
    r = extract_file(raw)  # within the limit it works, with segments from the decoded length
    assert r.info.duration is None and r.duration == pytest.approx(12.0, abs=0.1)
    assert not r.has_audio and len(r.segments) == 1


def test_no_audio_or_video_stream(tmp_path: Path) -> None:
    subs = tmp_path / "lyrics.srt"
    subs.write_text("1\n00:00:01,000 --> 00:00:02,000\nla la la\n")
    with pytest.raises(NoStreams, match="neither an audio nor a video stream"):
        extract_file(subs)


def test_tiny_clip_still_gives_one_segment(tmp_path: Path) -> None:
    path = make_video(tmp_path / "blip.mp4", 0.3)
    r = extract_file(path)
    assert len(r.segments) == 1 and 0 < r.segments[0].end <= 0.5
    assert np.all(np.isfinite(r.segments[0].vector))


def test_protocol_like_file_name_is_read_as_a_file(media, tmp_path: Path) -> None:
    odd = tmp_path / "http:not a url.mp4"
    odd.write_bytes(media("tone3").read_bytes())
    r = extract_file(odd)
    assert len(r.segments) == 1 and r.has_audio and r.has_video
