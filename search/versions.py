"""Alternate versions of one song: the same recording re-uploaded, trimmed, as a lyric video,
live, remastered. Results hide the query's own versions and show one row per song among the
rest (the best-ranked version, the others behind "+N versions").

Two videos are versions of one song when

1. their **song keys** are equal (``song_key``: normalised title + normalised artist, see
   ``normalize``), and
2. their sound is near-identical: the cosine distance between their ``music`` vectors (both
   must have one), else between their ``audio`` vectors, is at most ``MUSIC_MAX_DISTANCE`` /
   ``AUDIO_MAX_DISTANCE``. Without a comparable vector pair nothing is merged: a title alone
   never hides a video.

The thresholds come from real music (``bench/versions.py --real``: labelled clips, their
re-encoded, trimmed, EQ'd and louder versions, extracted by the pipeline's own extractor) and
the planted set of ``bench/versions.py`` (docs/search.md, "Alternate versions"). Everything
here is pure (no database): ``search.selectors`` loads the vectors.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

VERSIONS_COLLAPSE = "collapse"
VERSIONS_ALL = "all"
VERSIONS_CHOICES = (VERSIONS_COLLAPSE, VERSIONS_ALL)

# Cosine distances (0 = same direction), measured on real clips (docs/search.md). Re-encoded
# at 32-48 kbit/s or trimmed: music at most 0.030, audio at most 0.089. Different clips of one
# genre: music from 0.007 (the MusiCNN mean describes a style more than a recording; at 0.05,
# 2.5 % of the pairs of different originals would merge under one title, at 0.04 1.6 %),
# audio from 0.134 (none at 0.1).
MUSIC_MAX_DISTANCE = 0.04
AUDIO_MAX_DISTANCE = 0.1

# How many more matches find_similar is asked for when collapsing (capped at K_MAX), so that
# k rows are left once versions are folded away.
POOL_FACTOR = 3

# --------------------------------------------------------------------------- normalisation

_BRACKETS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}|【[^【】]*】")
_FEAT = re.compile(r"(?:^|\s)(?:feat|ft|featuring)(?:\.|\s).*$")
_SEPARATORS = re.compile(r"\s+[-–—|/:~]+\s+|\s*[|–—]\s*")
_NOISE = re.compile(
    r"\b(?:"
    r"official\s+(?:music\s+|lyrics?\s+|hd\s+|4k\s+)?(?:video|audio|clip|visualizer)"
    r"|official|music\s+video|video\s+clip|lyrics?\s+video|lyrics?|visualizer"
    r"|(?:\d{4}\s+)?(?:digital(?:ly)?\s+)?remaster(?:ed)?(?:\s+version)?(?:\s+\d{4})?"
    r"|hd|hq|4k|uhd|1080p|720p|audio"
    r")\b"
)
# "live" is dropped at the end of a title or where a separated part starts with it ("- Live
# at Wembley 1986"), not at the start of a title ("Live Forever").
_LIVE_PART = re.compile(r"^live(?:\s+(?:at|in|from|on|version|session)\b.*)?$")
_TRAILING_LIVE = re.compile(r"\s+live$")
_ARTIST_SUFFIX = re.compile(r"(?:\s+-\s+topic|vevo)$")
_NOT_WORD = re.compile(r"[^\w]+|_+")
_SPACES = re.compile(r"\s+")


def _fold(text: str) -> str:
    """Casefold and strip accents (NFKD, combining marks dropped)."""
    decomposed = unicodedata.normalize("NFKD", (text or "").casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _drop_brackets(text: str) -> str:
    previous = None
    while previous != text:  # nested brackets: innermost first
        previous, text = text, _BRACKETS.sub(" ", text)
    return text


def _words(text: str) -> str:
    return _SPACES.sub(" ", _NOT_WORD.sub(" ", text)).strip()


def normalize_artist(artist: str) -> str:
    """casefold, no accents, no bracketed parts, no "feat. …", no "VEVO" / " - Topic"
    channel suffix, no punctuation, single spaces."""
    text = _drop_brackets(_fold(artist)).strip()
    text = _ARTIST_SUFFIX.sub("", text)
    text = _FEAT.sub("", text)
    return _words(text)


def normalize_title(title: str, artist: str = "") -> str:
    """The song's title without its packaging: casefold, no accents, no bracketed parts
    ((…), […], {…}), no "official video/audio/music video", "lyrics"/"lyric video",
    "live" (at the end, or a separated "- Live at …" part), "remaster(ed)" with its year,
    "HD"/"4K", "feat./ft. …", no leading "Artist - " (when it is the video's artist), no
    punctuation, single spaces."""
    text = _drop_brackets(_fold(title))
    artist_key = normalize_artist(artist)
    parts = []
    for part in _SEPARATORS.split(text):
        part = _words(_NOISE.sub(" ", _FEAT.sub("", part)))
        if not part or _LIVE_PART.match(part):
            continue
        if artist_key and part == artist_key and not parts:
            continue  # "Artist - Song": the artist's name is not part of the title
        parts.append(_TRAILING_LIVE.sub("", part))
    return _words(" ".join(parts))


def song_key(title: str, artist: str) -> str:
    """``"<normalised title>|<normalised artist without spaces>"`` ("TheBandVEVO" and "The
    Band" are one artist); "" when the title has nothing left (such a video never merges)."""
    name = normalize_title(title, artist)
    return f"{name}|{normalize_artist(artist).replace(' ', '')}" if name else ""


# --------------------------------------------------------------------------- sound


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 - cos(a, b); infinity when either is all zeros."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if norm == 0.0 or not np.isfinite(norm):
        return float("inf")
    return float(1.0 - np.dot(a, b) / norm)


@dataclass(frozen=True)
class Sound:
    """The vectors that judge "near-identical audio" (either may be None)."""

    music: np.ndarray | None = None
    audio: np.ndarray | None = None


def same_sound(
    a: Sound | None,
    b: Sound | None,
    *,
    music_max: float = MUSIC_MAX_DISTANCE,
    audio_max: float = AUDIO_MAX_DISTANCE,
) -> bool:
    """Music vectors when both have one, else audio vectors when both have one; else False."""
    if a is None or b is None:
        return False
    if a.music is not None and b.music is not None:
        return cosine_distance(a.music, b.music) <= music_max
    if a.audio is not None and b.audio is not None:
        return cosine_distance(a.audio, b.audio) <= audio_max
    return False


def are_versions(key_a: str, sound_a: Sound | None, key_b: str, sound_b: Sound | None, **kw):
    """Versions of one song: equal non-empty song keys and the same sound (``same_sound``)."""
    return bool(key_a) and key_a == key_b and same_sound(sound_a, sound_b, **kw)


# --------------------------------------------------------------------------- collapsing


@dataclass
class Row:
    """One song in a result list: ``match`` (its best-ranked version) and ``versions``, the
    other versions found in the list, best first."""

    match: Any
    versions: list = field(default_factory=list)


def _key_of(video) -> str:
    return song_key(video.title or "", video.artist or "")


def collapse(
    matches: Sequence,
    query,
    sounds: Mapping[int, Sound] | Callable[[list[int]], Mapping[int, Sound]] | None = None,
) -> list[Row]:
    """Group a ranked list of matches (anything with ``.video``; best first) into rows.

    A match that is a version of ``query`` (a Video) is dropped; one that is a version of an
    earlier row's match joins that row's ``versions``; any other starts a row. Compared with
    each row's first (best-ranked) match only, so versions never chain. ``sounds``: video id
    → Sound, or a function loading them for a list of ids (called once, only for the videos
    whose song key is shared with the query or another match; none when no key repeats).
    Row matches get consecutive ranks (``rank`` replaced when the match is a dataclass).
    """
    keys = [_key_of(m.video) for m in matches]
    query_key = _key_of(query)
    counts: dict[str, int] = {}
    for key in (*keys, query_key):
        if key:
            counts[key] = counts.get(key, 0) + 1
    shared = [m.video.pk for m, key in zip(matches, keys, strict=True) if key and counts[key] > 1]
    loaded: Mapping[int, Sound] = {}
    if shared:
        wanted = [*shared, query.pk] if counts.get(query_key, 0) > 1 else shared
        loaded = sounds(wanted) if callable(sounds) else (sounds or {})

    query_sound = loaded.get(query.pk)
    rows: list[Row] = []
    heads: list[tuple[str, Sound | None, Row]] = []
    for match, key in zip(matches, keys, strict=True):
        sound = loaded.get(match.video.pk)
        if key and key == query_key and are_versions(key, sound, query_key, query_sound):
            continue
        for head_key, head_sound, row in heads:
            if are_versions(key, sound, head_key, head_sound):
                row.versions.append(match)
                break
        else:
            row = Row(match)
            rows.append(row)
            if key and counts[key] > 1:
                heads.append((key, sound, row))
    return renumber(rows)


def renumber(rows: list[Row]) -> list[Row]:
    """Ranks 1..n on the rows' matches (when they are dataclasses with a ``rank``)."""
    for rank, row in enumerate(rows, start=1):
        if hasattr(row.match, "rank") and hasattr(row.match, "__dataclass_fields__"):
            row.match = replace(row.match, rank=rank)
    return rows


def artist_key(video) -> str:
    """The artist cap's key, as search.sql computes it: lower(btrim(artist)); '' = none."""
    return (video.artist or "").strip(" ").lower()


def cap_per_artist(rows: list[Row], max_per_artist: int | None) -> list[Row]:
    """At most ``max_per_artist`` rows per artist (a row counts once, whatever its versions),
    in order; videos without an artist are not capped (the rule of search.ranking)."""
    if max_per_artist is None:
        return rows
    seen: dict[str, int] = {}
    kept = []
    for row in rows:
        key = artist_key(row.match.video)
        if key:
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > max_per_artist:
                continue
        kept.append(row)
    return renumber(kept)
