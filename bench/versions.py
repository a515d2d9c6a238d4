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

**Real music** (``--real [DIR]``, default /work/shared/data/real-audio: labelled clips, one
folder per genre): every clip and versions of it made with ffmpeg (``VARIANTS``: re-encoded
to MP3 48 kbit/s and AAC 32 kbit/s, trimmed by 3 s at the start and 2 s at the end, live-like
EQ + reverb, 8 dB louder through a limiter, and all of trim + EQ/reverb + MP3 48k at once),
extracted with the project's own extractor and MusiCNN (``features.extraction.extract_file``,
as the pipeline does; minutes on 2 cores, kept in ``--cache``). The ``audio`` vectors are
standardised over the whole set as ``search.materialize`` does over a catalog (weights 1);
``music`` is the raw mean embedding. Then the cosine distances of every pair of one clip's
versions (must merge) against every pair of different clips of the same genre (must not:
the sound check is what keeps two same-titled songs apart), for the thresholds in use and a
sweep. Run: ``.venv/bin/python bench/versions.py --real --cache /tmp/versions-real.npz``.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from features.extraction import aggregate, aggregate_music, extract_file  # noqa: E402
from features.media import ffmpeg_exe, probe  # noqa: E402
from features.musicnn import get_model  # noqa: E402
from search.versions import (  # noqa: E402
    AUDIO_MAX_DISTANCE,
    MUSIC_MAX_DISTANCE,
    Sound,
    are_versions,
    cosine_distance,
    same_sound,
    song_key,
)

REAL_AUDIO = Path("/work/shared/data/real-audio")

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


# --------------------------------------------------------------------------- real music

MP3_48K = ["-c:a", "libmp3lame", "-b:a", "48k"]
MP3_128K = ["-c:a", "libmp3lame", "-b:a", "128k"]
LIVE_LIKE = "bass=g=5,treble=g=-4,aecho=0.8:0.6:40|70:0.3|0.2"  # EQ + a small room
# name -> (ffmpeg output options, given the clip's duration; file extension)
VARIANTS: dict[str, tuple] = {
    "mp3 48k": (lambda d: MP3_48K, ".mp3"),
    "aac 32k": (lambda d: ["-c:a", "aac", "-b:a", "32k"], ".m4a"),
    "trimmed 3 s + 2 s": (lambda d: ["-ss", "3", "-t", f"{d - 5:.2f}", *MP3_128K], ".mp3"),
    "live-like EQ + reverb": (lambda d: ["-af", LIVE_LIKE, *MP3_128K], ".mp3"),
    "louder (+8 dB, limited)": (
        lambda d: ["-af", "volume=8dB,alimiter=limit=0.8", *MP3_128K],
        ".mp3",
    ),
    "all: trim + EQ/reverb + mp3 48k": (
        lambda d: ["-ss", "3", "-t", f"{d - 5:.2f}", "-af", LIVE_LIKE, *MP3_48K],
        ".mp3",
    ),
}
ORIGINAL = "original"


def make_variant(source: Path, name: str, folder: Path) -> Path:
    options, extension = VARIANTS[name]
    out = folder / f"{source.stem}-{len(name)}-{abs(hash(name)) % 10**6}{extension}"
    duration = probe(source).duration or 30.0
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-i", str(source), *options(duration), str(out)],
        check=True,
        timeout=120,
    )
    return out


def extract_real(folder: Path, cache: Path | None) -> dict[str, np.ndarray]:
    """Every clip under ``folder/<genre>/`` and its VARIANTS, extracted: arrays genre, song,
    kind, audio (n, 68) raw means, music (n, 200) mean embeddings. Read from / written to
    ``cache`` (an .npz) when given."""
    if cache is not None and cache.exists():
        return dict(np.load(cache, allow_pickle=False))
    model = get_model()
    clips = sorted(folder.glob("*/*.wav"))
    rows: dict[str, list] = {"genre": [], "song": [], "kind": [], "audio": [], "music": []}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mvsim-versions-") as tmp:
        for n, clip in enumerate(clips):
            for kind in (ORIGINAL, *VARIANTS):
                path = clip if kind == ORIGINAL else make_variant(clip, kind, Path(tmp))
                result = extract_file(path, music_model=model, thumbnails=False)
                music = aggregate_music(result.segments)
                assert music is not None, path
                rows["genre"].append(clip.parent.name)
                rows["song"].append(n)
                rows["kind"].append(kind)
                rows["audio"].append(aggregate(result.segments)[0])
                rows["music"].append(music[0])
            print(
                f"[{datetime.now():%H:%M:%S}] {n + 1}/{len(clips)} clips extracted "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    data = {
        "genre": np.array(rows["genre"]),
        "song": np.array(rows["song"]),
        "kind": np.array(rows["kind"]),
        "audio": np.array(rows["audio"], np.float32),
        "music": np.array(rows["music"], np.float32),
    }
    if cache is not None:
        np.savez(cache, **data)
    return data


def standardised_audio(raw: np.ndarray) -> np.ndarray:
    """The ``audio`` search vectors of a catalog of these items: z-scores with the catalog's
    population mean and std (a std under 1e-9 counts as 1), weights 1; the 1/sqrt(68) of
    search.materialize changes no cosine distance."""
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    return (raw - mean) / np.where(std < 1e-9, 1.0, std)


@dataclass(frozen=True)
class RealPairs:
    """Pairs of the extracted files of one genre: versions of one clip, and different clips."""

    music: np.ndarray  # (n, 200) per file
    audio: np.ndarray  # (n, 68) standardised
    versions: list[tuple[int, int]]
    kinds: np.ndarray  # per version pair: the version's kind ("a + b" between two versions)
    others: list[tuple[int, int]]

    def distances(self, pairs: list[tuple[int, int]], modality: str) -> np.ndarray:
        vectors = getattr(self, modality)
        return np.array([cosine_distance(vectors[i], vectors[j]) for i, j in pairs])

    def merged(
        self, pairs: list[tuple[int, int]], music_max: float | None, audio_max: float | None
    ) -> float:
        """Share of ``pairs`` that search.versions.same_sound merges, given the music vectors
        (unless ``music_max`` is None) and the audio vectors (unless ``audio_max`` is None):
        with both, the rule in use (music decides)."""
        limits = {"music_max": music_max or 0.0, "audio_max": audio_max or 0.0}

        def sound(i: int) -> Sound:
            return Sound(
                music=self.music[i] if music_max is not None else None,
                audio=self.audio[i] if audio_max is not None else None,
            )

        return float(np.mean([same_sound(sound(i), sound(j), **limits) for i, j in pairs]))

    def merged_by_both(self, pairs: list[tuple[int, int]], threshold: float) -> float:
        """Share of ``pairs`` whose music and audio vectors are both within ``threshold``: a
        stricter rule than same_sound's, measured for comparison (not in use)."""
        music = self.distances(pairs, "music") <= threshold
        audio = self.distances(pairs, "audio") <= threshold
        return float(np.mean(music & audio))


def real_pairs(data: dict[str, np.ndarray]) -> RealPairs:
    versions, kinds, others = [], [], []
    for i, j in itertools.combinations(range(len(data["song"])), 2):
        if data["genre"][i] != data["genre"][j]:
            continue
        if data["song"][i] == data["song"][j]:
            a, b = str(data["kind"][i]), str(data["kind"][j])
            versions.append((i, j))
            kinds.append(b if a == ORIGINAL else f"{a} + {b}")
        else:
            others.append((i, j))
    return RealPairs(
        music=data["music"].astype(np.float64),
        audio=standardised_audio(data["audio"].astype(np.float64)),
        versions=versions,
        kinds=np.array(kinds),
        others=others,
    )


def real_report(data: dict[str, np.ndarray]) -> list[str]:
    pairs = real_pairs(data)
    n_clips = len(set(data["song"].tolist()))
    genres = sorted(set(data["genre"].tolist()))
    version_music = pairs.distances(pairs.versions, "music")
    version_audio = pairs.distances(pairs.versions, "audio")
    other_music = pairs.distances(pairs.others, "music")
    other_audio = pairs.distances(pairs.others, "audio")
    lines = [
        f"{n_clips} clips in {len(genres)} genres ({', '.join(genres)}), "
        f"{len(data['song'])} extracted files; {len(pairs.versions)} version pairs, "
        f"{len(pairs.others)} pairs of different clips of one genre; "
        f"{datetime.now():%Y-%m-%d}",
        "",
        "Cosine distances of a clip and its version (median / 95th percentile / max), and of",
        "different clips of one genre (min / 1st percentile / median):",
        "",
        "| pairs | music: median | p95 | max | audio: median | p95 | max | merged (in use) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind in VARIANTS:
        m, a = version_music[pairs.kinds == kind], version_audio[pairs.kinds == kind]
        of_kind = [pair for pair, k in zip(pairs.versions, pairs.kinds, strict=True) if k == kind]
        merged = pairs.merged(of_kind, MUSIC_MAX_DISTANCE, AUDIO_MAX_DISTANCE)
        lines.append(
            f"| {kind} | {np.median(m):.4f} | {np.percentile(m, 95):.4f} | {m.max():.4f} | "
            f"{np.median(a):.4f} | {np.percentile(a, 95):.4f} | {a.max():.4f} | {merged:.0%} |"
        )
    lines += [
        f"| *different clips, one genre*: min / p1 / median | {other_music.min():.4f} | "
        f"{np.percentile(other_music, 1):.4f} | {np.median(other_music):.4f} | "
        f"{other_audio.min():.4f} | {np.percentile(other_audio, 1):.4f} | "
        f"{np.median(other_audio):.4f} | "
        f"{pairs.merged(pairs.others, MUSIC_MAX_DISTANCE, AUDIO_MAX_DISTANCE):.2%} |",
        "",
        "Merge recall over every pair of one clip's files (original and versions) and false",
        "merges over pairs of different clips of one genre, with the music vectors alone (as",
        "search.versions.same_sound judges videos that have them), the audio vectors alone (a",
        "catalog without music embeddings) and, for comparison, both within the threshold:",
        "",
        "| threshold | music: recall | false merges | audio: recall | false merges "
        "| both: recall | false merges |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for threshold in (0.01, 0.02, 0.03, 0.04, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2):
        cells = [
            f"{pairs.merged(pairs.versions, threshold, None):.1%}",
            f"{pairs.merged(pairs.others, threshold, None):.2%}",
            f"{pairs.merged(pairs.versions, None, threshold):.1%}",
            f"{pairs.merged(pairs.others, None, threshold):.2%}",
            f"{pairs.merged_by_both(pairs.versions, threshold):.1%}",
            f"{pairs.merged_by_both(pairs.others, threshold):.2%}",
        ]
        lines.append(f"| {threshold} | {' | '.join(cells)} |")
    originals = data["kind"] == ORIGINAL
    original_pairs = [(i, j) for i, j in pairs.others if originals[i] and originals[j]]
    firsts = [(i, j) for i, j in pairs.versions if originals[i]]
    in_use = (MUSIC_MAX_DISTANCE, AUDIO_MAX_DISTANCE)
    lines += [
        "",
        f"In use (music {in_use[0]}, audio {in_use[1]}; music decides when both videos have "
        f"it): recall {pairs.merged(pairs.versions, *in_use):.1%} of all version pairs, "
        f"{pairs.merged(firsts, *in_use):.1%} of original-version pairs; false merges "
        f"{pairs.merged(pairs.others, *in_use):.2%} of all pairs of different clips, "
        f"{pairs.merged(original_pairs, *in_use):.2%} of the {len(original_pairs)} pairs of "
        "different originals.",
    ]
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--real",
        nargs="?",
        const=REAL_AUDIO,
        type=Path,
        help="measure on real clips (a folder per genre) instead of the planted set",
    )
    parser.add_argument("--cache", type=Path, help="an .npz keeping the real clips' vectors")
    args = parser.parse_args(argv)
    if args.real is not None:
        print("\n".join(real_report(extract_real(args.real, args.cache))))
        return
    print("| music max | audio max | recall (version pairs) | false merges (hard) | (all) |")
    print("| --- | --- | --- | --- | --- |")
    sweep = {(0.01, 0.01), (0.02, 0.02), (0.05, 0.05), (0.1, 0.1), (0.4, 1.0)}
    for music_max, audio_max in sorted(sweep | {(MUSIC_MAX_DISTANCE, AUDIO_MAX_DISTANCE)}):
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
