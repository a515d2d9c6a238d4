"""Presentation: pure functions that turn domain objects into what the pages and the API show
(player sources, media and artifact URLs, metadata rows, the feature timeline as SVG
polylines, the about page's tables). No database reads here: those are in search.selectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np
from django.conf import settings
from django.urls import reverse

from catalog.models import TrackMetadata, ValueSource, Video
from features import thumbnails
from features.definitions import AUDIO_FEATURE_NAMES, VISUAL_FEATURE_NAMES
from mvsite import storage as stored

# --- media and players -----------------------------------------------------------------------


def media_url(video: Video) -> str:
    """URL of the video's own media file ('' when it has none)."""
    if not video.media:
        return ""
    return settings.MEDIA_URL + quote(video.media.name)


def play_url(video: Video, seconds: float = 0) -> str:
    """The video's page, with its player starting at `seconds`."""
    url = reverse("search:video", args=[video.pk])
    return f"{url}?t={int(seconds)}#player" if seconds else f"{url}#player"


def player(video: Video, start: float = 0) -> dict:
    """What the player template needs: a YouTube embed, an HTML5 source, or nothing."""
    start = max(int(start or 0), 0)
    if video.media:
        kind = "audio" if video.has_video is False else "video"
        return {"kind": kind, "src": media_url(video), "start": start}
    if video.youtube_id:
        return {
            "kind": "youtube",
            "src": f"https://www.youtube.com/embed/{quote(video.youtube_id)}",
            "start": start,
        }
    return {"kind": "none", "src": "", "start": 0}


def artifact_url(path: str) -> str:
    """MEDIA URL of a model's plot: a name in the media storage (or, from old versions, an
    absolute path under MEDIA_ROOT); '' when it is not there."""
    if not path:
        return ""
    name = path
    if Path(path).is_absolute():
        try:
            name = stored.media_name(path)
        except ValueError:
            return ""
    if not stored.media_storage().exists(name):
        return ""
    return settings.MEDIA_URL + quote(name)


# --- thumbnails (features.thumbnails writes them; docs/features.md) ----------------------------

THUMB_SIZE = (thumbnails.THUMB_WIDTH, 90)  # the <img> width and height of a segment picture
POSTER_SIZE = (thumbnails.POSTER_WIDTH, 144)  # ... and of a poster (16:9; CSS crops others)


def thumbnail_url(name: str) -> str:
    """MEDIA URL of a thumbnail name recorded by features (``Segment.thumbnail``,
    ``VideoFeatures.poster``); '' for none."""
    return settings.MEDIA_URL + quote(name) if name else ""


def stored_thumbnails(video: Video) -> set[str]:
    """The names of the video's thumbnails in the media storage, in one listing (on S3 one
    request for the whole video page, not one per segment)."""
    return set(stored.files(stored.media_storage(), thumbnails.video_dir(video.pk)))


def poster_url(video: Video, present: set[str] | None = None) -> str:
    """URL of the video's poster ('' until it has one), found in the storage, not in the
    database. ``present``: stored_thumbnails(video), when the caller has it."""
    name = thumbnails.poster_name(video.pk)
    present = stored_thumbnails(video) if present is None else present
    return thumbnail_url(name) if name in present else ""


def segment_thumbnail_url(video: Video, index: int, present: set[str] | None = None) -> str:
    """URL of the picture of the video's segment ``index`` ('' when it has none)."""
    name = thumbnails.segment_name(video.pk, index)
    present = stored_thumbnails(video) if present is None else present
    return thumbnail_url(name) if name in present else ""


# --- video page ------------------------------------------------------------------------------


def metadata_rows(meta: TrackMetadata | None) -> list[dict]:
    """Track metadata with where each value came from ([] without metadata)."""
    if meta is None:
        return []
    labels = dict(ValueSource.choices)
    sources = meta.sources or {}
    rows = []
    for name in ("album", "spotify_popularity", *TrackMetadata.AUDIO_FEATURE_FIELDS):
        value = getattr(meta, name)
        if value in (None, ""):
            continue
        source = sources.get(name) or ("spotify" if name.startswith("spotify") else "")
        rows.append(
            {
                "name": name.replace("_", " "),
                "value": round(value, 3) if isinstance(value, float) else value,
                "source": labels.get(source, source or "unknown"),
            }
        )
    return rows


@dataclass
class Series:
    name: str
    description: str
    values: list[float]
    low: float
    high: float
    points: str  # SVG polyline points


@dataclass
class Timeline:
    width: int
    row_height: int
    duration: float
    segments: list[dict]
    series: list[Series]
    poster: str = ""  # the video's poster URL ('' when it has none)

    @property
    def height(self) -> int:
        return self.row_height * len(self.series)


def _feature_positions() -> dict[str, int]:

    return {name: i for i, name in enumerate(AUDIO_FEATURE_NAMES)}


def timeline(
    video: Video, rows: list[tuple], *, width: int = 640, row_height: int = 56
) -> Timeline | None:
    """A few per-segment features over time, as SVG polylines (None without segments).

    ``rows``: the video's segments in order, as (index, start, end, audio, visual)
    (search.selectors.segment_rows).
    """

    if not rows:
        return None
    audio = np.array([np.asarray(r[3], dtype=float) for r in rows])
    visual = np.array([np.asarray(r[4], dtype=float) for r in rows])
    pos = _feature_positions()
    gray = [i for i, n in enumerate(VISUAL_FEATURE_NAMES) if n.startswith("hist_gray_")]
    colour = [
        i
        for i, n in enumerate(VISUAL_FEATURE_NAMES)
        if n.startswith(("hist_red_", "hist_green_", "hist_blue_"))
    ]
    centres = (np.arange(len(gray)) + 0.5) * (256 / len(gray)) / 255.0
    gray_hist = visual[:, gray]
    totals = gray_hist.sum(axis=1)
    brightness = np.where(
        totals > 0, (gray_hist * centres).sum(axis=1) / np.maximum(totals, 1e-9), 0
    )
    change = np.zeros(len(rows))
    if len(rows) > 1:
        change[1:] = np.abs(np.diff(visual[:, colour], axis=0)).sum(axis=1) / 2
    series_data = [
        ("Energy", "audio energy (mean over the segment)", audio[:, pos["energy_mean"]]),
        (
            "Spectral centroid",
            "brightness of the sound (fraction of Nyquist)",
            audio[:, pos["spectral_centroid_mean"]],
        ),
        ("Brightness", "mean gray level of the picture (0-1)", brightness),
        ("Picture change", "colour-histogram change from the previous segment", change),
    ]
    duration = max(float(rows[-1][2]), video.duration_seconds or 0.0, 1e-6)
    series = []
    for index, (name, description, values) in enumerate(series_data):
        values = np.nan_to_num(np.asarray(values, dtype=float))
        low, high = float(values.min()), float(values.max())
        span = high - low or 1.0
        top = index * row_height
        pts = []
        for (_, start, end, _, _), value in zip(rows, values, strict=True):
            x = (start + end) / 2 / duration * width
            y = top + row_height - 8 - (value - low) / span * (row_height - 24)
            pts.append(f"{x:.1f},{y:.1f}")
        series.append(
            Series(name, description, [float(v) for v in values], low, high, " ".join(pts))
        )
    present = stored_thumbnails(video)
    segments = [
        {
            "index": idx,
            "start": start,
            "end": end,
            "x": start / duration * width,
            "w": max((end - start) / duration * width, 1),
            "url": play_url(video, start),
            "thumb": segment_thumbnail_url(video, idx, present),
        }
        for idx, start, end, _, _ in rows
    ]
    return Timeline(width, row_height, duration, segments, series, poster_url(video, present))


# --- about -----------------------------------------------------------------------------------


def about(summary: dict) -> dict:
    """The about page: search.selectors.about_summary() plus the active model's tables and
    plots."""
    data = dict(summary)
    model = data.get("model")
    if model is None:
        return data
    metrics = model.metrics or {}
    per_genre = metrics.get("per_genre") or {}
    baseline = metrics.get("baseline_per_genre") or {}
    data.update(
        metrics=metrics,
        per_genre=[
            {
                "genre": name,
                "precision": values.get("precision"),
                "recall": values.get("recall"),
                "f1": values.get("f1"),
                "support": values.get("support"),
                "baseline_f1": (baseline.get(name) or {}).get("f1"),
            }
            for name, values in per_genre.items()
        ],
        history_plot=artifact_url(model.history_plot_path),
        confusion_plot=artifact_url(model.confusion_plot_path),
        history_final=[
            {"name": key, "value": values[-1], "epochs": len(values)}
            for key, values in sorted((model.history or {}).items())
            if isinstance(values, list) and values
        ],
    )
    return data
