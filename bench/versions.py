"""Benchmark: how often version detection (search.versions) merges what it should and what it
must not, on a planted set. No database; a few seconds.

Run: ``.venv/bin/python bench/versions.py [--songs 200] [--seed 0]``

The planted set (``planted_set``): ``--songs`` originals, each with a 200-d music vector (like
MusiCNN means: non-negative) and a 68-d audio vector, by artists of 4 songs each, and per song:

- versions that must merge with the original: re-encoded (noise 0.02 x the vector's per-value
  spread, title "+ (Official Video)"), trimmed (noise 0.05, "Artist - Title | Official Music
  Video"), live-like EQ (noise 0.15 plus a tilt over the dimensions, "Title (Live)" or "Title -
  Live at Wembley 1986"), a lyric video of the same recording ("Title (Lyrics)") and every
  other fourth song a remaster ("Title - Remastered 2011"); a quarter of the versions have no
  music vector (audio decides);
- non-versions that must not merge: the artist's other songs (different titles, sound
  0.5 noise away: the same band), a "Title Two" / "Title Part 2" song by the same artist near
  in sound, another artist's song with the same title ("Intro": same title, different
  artist, for a tenth of them a near-identical sound, a sample), and a second song with the
  same title by the same artist but other music (album intros).

Pairs: every pair of versions of one song (recall = merged / all), every pair of hard
non-versions above (false-merge rate = merged / all), and every other pair of the set
(false merges among all non-version pairs).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search.versions import (  # noqa: E402
    AUDIO_MAX_DISTANCE,
    MUSIC_MAX_DISTANCE,
    Sound,
    are_versions,
    song_key,
)

MUSIC_DIM, AUDIO_DIM = 200, 68
NOISE = {"reencoded": 0.02, "trimmed": 0.05, "live": 0.15, "lyrics": 0.02, "remaster": 0.05}


@dataclass(frozen=True)
class Item:
    id: int
    title: str
    artist: str
    song: int  # planted song id: same song = versions
    kind: str
    sound: Sound


def _music(rng) -> np.ndarray:
    return np.abs(rng.standard_normal(MUSIC_DIM))


def _noisy(vector: np.ndarray, sigma: float, rng, *, positive: bool, tilt: float = 0.0):
    out = vector + sigma * rng.standard_normal(vector.shape)
    if tilt:  # EQ: a smooth gain over the dimensions (lows up, highs down)
        out = out * (1 + tilt * np.linspace(1, -1, vector.size))
    return np.abs(out) if positive else out


def planted_set(songs: int = 200, seed: int = 0) -> tuple[list[Item], list[tuple[int, int]]]:
    """Items and the hard non-version pairs (ids); versions share ``song``."""
    rng = np.random.default_rng(seed)
    items: list[Item] = []
    hard: list[tuple[int, int]] = []

    def add(title, artist, song, kind, music, audio) -> Item:
        item = Item(len(items), title, artist, song, kind, Sound(music, audio))
        items.append(item)
        return item

    song_id = itertools.count()
    for n in range(songs):
        artist = f"Artist {n // 4}" if n % 7 else f"Ártist {n // 4} feat. Guest"
        base_artist = f"Artist {n // 4}"
        title = f"Title {n}"
        s = next(song_id)
        music, audio = _music(rng), rng.standard_normal(AUDIO_DIM)
        original = add(title, base_artist, s, "original", music, audio)
        live_title = f"{title} (Live)" if n % 2 else f"{title} - Live at Wembley 1986"
        variants = [
            ("reencoded", f"{title} (Official Video)", base_artist),
            ("trimmed", f"{base_artist} - {title} | Official Music Video", artist),
            ("live", live_title, base_artist),
            ("lyrics", f"{title} (Lyrics) [HD]", f"{base_artist}VEVO"),
        ]
        if n % 4 == 0:
            variants.append(("remaster", f"{title} - Remastered 2011", base_artist))
        for i, (kind, vtitle, vartist) in enumerate(variants):
            tilt = 0.1 if kind == "live" else 0.0
            vm = _noisy(music, NOISE[kind], rng, positive=True, tilt=tilt)
            va = _noisy(audio, NOISE[kind], rng, positive=False, tilt=tilt)
            add(vtitle, vartist, s, kind, None if (n + i) % 4 == 0 else vm, va)

        # Hard non-versions.
        band = add(f"Other {n}", base_artist, next(song_id), "same-artist", None, None)
        band = Item(
            band.id,
            band.title,
            band.artist,
            band.song,
            band.kind,
            Sound(_noisy(music, 0.5, rng, positive=True), _noisy(audio, 0.5, rng, positive=False)),
        )
        items[band.id] = band
        hard.append((original.id, band.id))
        sequel_title = f"{title} Two" if n % 2 else f"{title} Part 2"
        sequel = add(
            sequel_title,
            base_artist,
            next(song_id),
            "similar-title",
            _noisy(music, 0.2, rng, positive=True),
            _noisy(audio, 0.2, rng, positive=False),
        )
        hard.append((original.id, sequel.id))
        sample = n % 10 == 0
        other = add(
            title,
            f"Someone Else {n}",
            next(song_id),
            "same-title",
            _noisy(music, 0.02, rng, positive=True) if sample else _music(rng),
            _noisy(audio, 0.02, rng, positive=False) if sample else rng.standard_normal(AUDIO_DIM),
        )
        hard.append((original.id, other.id))
        if n % 5 == 0:
            intro = add(title, base_artist, next(song_id), "same-title-artist", _music(rng), None)
            intro = Item(
                intro.id,
                intro.title,
                intro.artist,
                intro.song,
                intro.kind,
                Sound(intro.sound.music, rng.standard_normal(AUDIO_DIM)),
            )
            items[intro.id] = intro
            hard.append((original.id, intro.id))
    return items, hard


def measure(
    songs: int = 200,
    seed: int = 0,
    music_max: float = MUSIC_MAX_DISTANCE,
    audio_max: float = AUDIO_MAX_DISTANCE,
) -> dict:
    """Merge recall on planted version pairs, false-merge rates on hard and on all
    non-version pairs, and the pairs each went wrong on."""
    items, hard = planted_set(songs, seed)
    keys = [song_key(item.title, item.artist) for item in items]

    def merged(a: Item, b: Item) -> bool:
        return are_versions(
            keys[a.id], a.sound, keys[b.id], b.sound, music_max=music_max, audio_max=audio_max
        )

    by_song: dict[int, list[Item]] = {}
    for item in items:
        by_song.setdefault(item.song, []).append(item)
    version_pairs = [
        pair for group in by_song.values() for pair in itertools.combinations(group, 2)
    ]
    missed = [(a, b) for a, b in version_pairs if not merged(a, b)]
    hard_merged = [(items[a], items[b]) for a, b in hard if merged(items[a], items[b])]
    # All non-version pairs: only pairs with equal keys can merge, so count those exactly.
    non_version_total = len(items) * (len(items) - 1) // 2 - len(version_pairs)
    by_key: dict[str, list[Item]] = {}
    for item in items:
        if keys[item.id]:
            by_key.setdefault(keys[item.id], []).append(item)
    all_false = [
        (a, b)
        for group in by_key.values()
        for a, b in itertools.combinations(group, 2)
        if a.song != b.song and merged(a, b)
    ]
    return {
        "items": len(items),
        "version_pairs": len(version_pairs),
        "recall": 1 - len(missed) / len(version_pairs),
        "missed": missed,
        "hard_pairs": len(hard),
        "hard_false_merge_rate": len(hard_merged) / len(hard),
        "hard_merged": hard_merged,
        "non_version_pairs": non_version_total,
        "false_merge_rate": len(all_false) / non_version_total,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("| music max | audio max | recall (version pairs) | false merges (hard) | (all) |")
    print("| --- | --- | --- | --- | --- |")
    for music_max, audio_max in ((0.01, 0.01), (0.02, 0.02), (0.05, 0.05), (0.1, 0.1), (0.4, 1.0)):
        r = measure(args.songs, args.seed, music_max, audio_max)
        in_use = (music_max, audio_max) == (MUSIC_MAX_DISTANCE, AUDIO_MAX_DISTANCE)
        mark = " (in use)" if in_use else ""
        print(
            f"| {music_max}{mark} | {audio_max} | {r['recall']:.1%} of {r['version_pairs']} | "
            f"{r['hard_false_merge_rate']:.2%} of {r['hard_pairs']} | "
            f"{r['false_merge_rate']:.4%} of {r['non_version_pairs']} |"
        )
    r = measure(args.songs, args.seed)
    for a, b in r["missed"][:5]:
        print("missed:", a.kind, repr(a.title), "/", b.kind, repr(b.title))
    for a, b in r["hard_merged"][:5]:
        print("false merge:", a.kind, repr(a.title), "/", b.kind, repr(b.title), b.artist)


if __name__ == "__main__":
    main()
