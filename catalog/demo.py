"""Procedural demo catalog: short music videos for 10 genres, generated offline.

The first run of mvsim has no network, so it synthesises its own catalog. Each genre has a
`GenreStyle` that differs the way real genres do (tempo, groove, harmony, timbre, distortion;
palette, brightness, motion, cut rate, texture), and every clip draws its own variation inside
that style from a seed, so similarity search and the genre classifier find real structure
without the clips being copies of each other.

Everything is deterministic for (genre, index, seed): the audio samples and frames are
identical, and the MP4 is byte-identical too (single-threaded, bit-exact ffmpeg).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import wave
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from catalog.demo_audio import (
    MusicParams,
    RenderedAudio,
    SoundStyle,
    plan_music,
    render_audio,
)
from catalog.demo_video import PictureStyle, render_frames

__all__ = [
    "GENRES",
    "GENRE_STYLES",
    "ClipPlan",
    "DemoClip",
    "DemoGenerationError",
    "GenreStyle",
    "UnknownGenre",
    "generate_demo_catalog",
    "generate_demo_video",
    "genre_slug",
    "plan_clip",
    "render_clip_audio",
    "render_clip_frames",
    "resolve_genre",
]

DURATION_RANGE = (30.0, 60.0)


class UnknownGenre(ValueError):
    def __init__(self, name: str):
        self.name = name
        super().__init__(f"unknown genre {name!r}; valid genres: {', '.join(GENRES)}")


class DemoGenerationError(RuntimeError):
    """ffmpeg failed to encode a demo clip."""


@dataclass(frozen=True)
class GenreStyle:
    name: str
    sound: SoundStyle
    picture: PictureStyle
    artists: tuple[tuple[str, ...], tuple[str, ...]]  # first part x second part
    titles: tuple[tuple[str, ...], tuple[str, ...]]


@dataclass(frozen=True)
class DemoClip:
    path: Path
    genre: str
    title: str
    artist: str
    duration: float
    tempo_bpm: float
    key: str  # tonic, e.g. "F#"
    mode: str  # "major" | "minor"
    energy: float  # 0..1
    danceability: float  # 0..1


GENRE_STYLES: dict[str, GenreStyle] = {
    "Blues": GenreStyle(
        "Blues",
        SoundStyle(  # 12-bar shuffle, boogie bass, swung piano, overdriven blues-scale guitar
            tempo=(60, 90),
            swing=(0.64, 0.7),
            minor_prob=0.35,
            humanize=0.006,
            drums=(
                ("kick", "x.......x......."),
                ("snare", "....x.......x..."),
                ("hat", "x.o.x.o.x.o.x.o."),
            ),
            bass="R.T.F.S.O.S.F.T.",
            bass_tone="electric",
            comp="..x...x...x...x.",
            comp_tone="piano",
            lead="x.x?..x.x.?.x...",
            lead_tone="ks",
            lead_scale="blues",
            lead_drive=1.8,
            progressions_major=(
                (
                    (0, "7"),
                    (0, "7"),
                    (0, "7"),
                    (0, "7"),
                    (5, "7"),
                    (5, "7"),
                    (0, "7"),
                    (0, "7"),
                    (7, "7"),
                    (5, "7"),
                    (0, "7"),
                    (7, "7"),
                ),
            ),
            progressions_minor=(
                (
                    (0, "m7"),
                    (0, "m7"),
                    (0, "m7"),
                    (0, "m7"),
                    (5, "m7"),
                    (5, "m7"),
                    (0, "m7"),
                    (0, "m7"),
                    (8, "7"),
                    (7, "7"),
                    (0, "m7"),
                    (7, "7"),
                ),
            ),
            groove=0.45,
            mix=(0.9, 0.7, 0.5, 0.6),
        ),
        PictureStyle(
            hue=(215, 245),
            accent_hue=(200, 230),
            saturation=(0.55, 0.75),
            brightness=(0.28, 0.42),
            motion=0.03,
            cuts_per_min=5,
            texture="grain",
            texture_strength=0.35,
            shape="circle",
            shape_count=(1, 2),
            vignette=0.6,
        ),
        (
            ("Blind", "Big", "Little", "Howlin'", "Sweet", "Lightnin'", "T-Bone", "Muddy"),
            (
                "Otis Grant",
                "Willie Jones",
                "Sam Tate",
                "Mae Rollins",
                "Henry Watts",
                "Ruby Shaw",
                "Jack Harlan",
                "Lucille Brown",
            ),
        ),
        (
            (
                "Midnight",
                "Crossroad",
                "Muddy River",
                "Hard Luck",
                "Lonesome",
                "Empty Bottle",
                "Rainy Day",
                "Graveyard",
            ),
            ("Blues", "Shuffle", "Train", "Woman", "Moan", "Boogie", "Ramble", "Stomp"),
        ),
    ),
    "Country": GenreStyle(
        "Country",
        SoundStyle(  # train beat on brushes, boom-chick bass, strummed and twangy plucked guitars
            tempo=(90, 120),
            swing=(0.5, 0.54),
            minor_prob=0.15,
            humanize=0.005,
            drums=(
                ("kick", "x.......x......."),
                ("rim", "....x.......x..."),
                ("brush", "o-x-o-x-o-x-o-x-"),
            ),
            bass="R.......F.......",
            bass_tone="electric",
            comp="....x.x.....x.x.",
            comp_tone="strum",
            lead="x.x.x.?.x.x.?...",
            lead_tone="twang",
            progressions_major=(
                ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")),
                ((0, "maj"), (0, "maj"), (5, "maj"), (7, "7")),
                ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),
            ),
            progressions_minor=(((0, "min"), (8, "maj"), (10, "maj"), (0, "min")),),
            groove=0.6,
            mix=(0.8, 0.7, 0.6, 0.5),
        ),
        PictureStyle(
            hue=(30, 45),
            accent_hue=(40, 55),
            saturation=(0.4, 0.6),
            brightness=(0.55, 0.72),
            motion=0.05,
            cuts_per_min=8,
            texture="grain",
            texture_strength=0.25,
            shape="circle",
            shape_count=(1, 2),
            vignette=0.3,
        ),
        (
            ("Hank", "Dolly", "Waylon", "Loretta", "Jesse", "Cody", "Tammy", "Wade"),
            ("Carter", "Dawson", "McCrae", "Tillman", "Boone", "Haggard", "Rhodes", "Calloway"),
        ),
        (
            (
                "Dusty",
                "Whiskey",
                "Tennessee",
                "Gravel",
                "Pickup",
                "Honky-Tonk",
                "Back Porch",
                "Prairie",
            ),
            ("Road", "Heart", "Moon", "Sunday", "Rodeo", "Rain", "Highway", "Sweetheart"),
        ),
    ),
    "Hip Hop": GenreStyle(
        "Hip Hop",
        SoundStyle(  # boom-bap: heavy kick and snare, swung sixteenth hats, 808 sub, rhodes chords
            tempo=(85, 98),
            swing=(0.55, 0.62),
            swing_unit=16,
            minor_prob=0.8,
            humanize=0.004,
            drums=(
                ("kick808", "x.....x...x....."),
                ("snare", "....X.......X..."),
                ("hat", "x.x.x?x.x.x.x?x."),
            ),
            bass="R.....R...R.....",
            bass_tone="sub",
            comp="x.......x.......",
            comp_tone="rhodes",
            progressions_major=(((0, "maj7"), (9, "m7")),),
            progressions_minor=(
                ((0, "m7"), (8, "maj7")),
                ((0, "m9"), (5, "m7")),
                ((0, "m7"), (3, "maj7"), (8, "maj7"), (7, "7")),
            ),
            groove=0.85,
            mix=(1.0, 0.8, 0.4, 0.0),
            headroom=2.5,
        ),
        PictureStyle(
            hue=(265, 290),
            accent_hue=(40, 55),
            saturation=(0.6, 0.8),
            brightness=(0.35, 0.5),
            motion=0.1,
            cuts_per_min=20,
            texture="noise",
            texture_strength=0.4,
            shape="rect",
            shape_count=(2, 3),
            beat_pulse=0.15,
        ),
        (
            ("MC", "Lil", "Big", "Young", "DJ", "Kid", "Notorious", "Queen"),
            ("Verse", "Static", "Cipher", "Blocks", "Kash", "Rhyme", "Dolo", "Metro"),
        ),
        (
            (
                "Concrete",
                "Boom Bap",
                "Late Night",
                "Corner",
                "Golden",
                "Block",
                "Brooklyn",
                "Gritty",
            ),
            ("Dreams", "Flow", "Hustle", "Stories", "Cypher", "Era", "Dialect", "Anthem"),
        ),
    ),
    "House": GenreStyle(
        "House",
        SoundStyle(  # four-on-the-floor, clap on 2 and 4, open hats on the off-beats, synth stabs
            tempo=(120, 128),
            minor_prob=0.7,
            drums=(
                ("kick", "X...X...X...X..."),
                ("clap", "....x.......x..."),
                ("hat", "o-.-o-.-o-.-o-.-"),
                ("ohat", "..x...x...x...x."),
            ),
            bass="..R...R...R...R.",
            bass_tone="synth",
            comp="x..x..x...x..x..",
            comp_tone="stab",
            progressions_major=(
                ((0, "maj7"), (5, "maj7")),
                ((0, "maj7"), (9, "m7"), (5, "maj7"), (7, "9")),
            ),
            progressions_minor=(
                ((0, "m7"), (5, "m7")),
                ((0, "m9"), (10, "9"), (8, "maj7"), (10, "9")),
            ),
            crash_every=8,
            breakdown=True,
            groove=0.95,
            mix=(1.0, 0.75, 0.45, 0.0),
            headroom=2.5,
        ),
        PictureStyle(
            hue=(175, 195),
            accent_hue=(290, 320),
            saturation=(0.85, 1.0),
            brightness=(0.5, 0.68),
            motion=0.25,
            cuts_per_min=36,
            texture="stripes",
            texture_strength=0.8,
            shape="circle",
            shape_count=(2, 4),
            beat_pulse=0.35,
        ),
        (
            ("Deep", "Soul", "Night", "Sunrise", "Basement", "Disco", "Acid", "Warehouse"),
            (
                "Collective",
                "Unit",
                "Theory",
                "Society",
                "Machine",
                "Project",
                "Assembly",
                "Rhythm Club",
            ),
        ),
        (
            ("Move", "Feel", "Lift", "Jack", "Lose", "Midnight", "Sunrise", "Body"),
            (
                "Your Body",
                "The Groove",
                "Me Higher",
                "Together",
                "Tonight",
                "The Music",
                "Control",
                "Forever",
            ),
        ),
    ),
    "Jazz": GenreStyle(
        "Jazz",
        SoundStyle(  # swing ride, feathered kick, walking upright bass, extended piano, vibes
            tempo=(110, 180),
            swing=(0.62, 0.68),
            minor_prob=0.35,
            humanize=0.008,
            drums=(
                ("ride", "x...x.x.x...x.x."),
                ("hat", "....o.......o..."),
                ("kick", "-...-...-...-..."),
                ("snare", "..?...?...?..?.."),
            ),
            bass="W...W...W...W...",
            bass_tone="upright",
            comp="x.....x...?..?..",
            comp_tone="piano",
            lead="x.x.?.x.?.x.x.?.",
            lead_tone="vibes",
            lead_scale="pent",
            progressions_major=(
                ((2, "m7"), (7, "7"), (0, "maj7"), (9, "7")),
                ((0, "maj7"), (9, "m7"), (2, "m7"), (7, "9")),
            ),
            progressions_minor=(
                ((2, "m7b5"), (7, "7"), (0, "m7"), (0, "m7")),
                ((0, "m9"), (5, "m7"), (10, "9"), (3, "maj7")),
            ),
            groove=0.4,
            mix=(0.45, 0.8, 0.6, 0.5),
        ),
        PictureStyle(
            hue=(25, 40),
            accent_hue=(35, 50),
            saturation=(0.3, 0.45),
            brightness=(0.22, 0.34),
            motion=0.025,
            cuts_per_min=6,
            texture="grain",
            texture_strength=0.3,
            shape="ring",
            shape_count=(1, 3),
            vignette=0.7,
        ),
        (
            ("Art", "Billie", "Lester", "Sarah", "Horace", "Duke", "Cannonball", "Bud"),
            (
                "Ellison Trio",
                "Vaughn Quartet",
                "Monroe",
                "Kelly Quintet",
                "Dorsey",
                "Rollins Trio",
                "Hayes",
                "Marsh Sextet",
            ),
        ),
        (
            ("Blue", "Autumn", "Smoke", "Round", "Moonlit", "Velvet", "Lullaby for", "Bebop"),
            ("in Green", "Nocturne", "Steps", "Waltz", "Serenade", "Avenue", "Reverie", "Midnight"),
        ),
    ),
    "Latin": GenreStyle(
        "Latin",
        SoundStyle(  # son clave, conga tumbao, bell and shaker, anticipated bass, piano montuno
            tempo=(90, 110),
            minor_prob=0.6,
            humanize=0.004,
            drums=(
                ("clave", "x..x..x...x.x..."),
                ("conga_hi", "....x.......x..."),
                ("conga_lo", "......xx......xx"),
                ("cowbell", "x...x...x...x..."),
                ("shaker", "o-o-o-o-o-o-o-o-"),
                ("kick", "o.......o......."),
            ),
            bass="......R.....F...",
            bass_tone="electric",
            comp="x.xx.x.xx.x.x.x.",
            comp_tone="piano",
            progressions_major=(
                ((0, "maj"), (7, "7")),
                ((0, "maj"), (5, "maj"), (7, "7"), (5, "maj")),
            ),
            progressions_minor=(
                ((0, "min"), (5, "min"), (7, "7"), (0, "min")),
                ((0, "min"), (7, "7")),
            ),
            groove=0.9,
            mix=(1.0, 0.7, 0.6, 0.0),
        ),
        PictureStyle(
            hue=(48, 62),
            accent_hue=(0, 20),
            saturation=(0.8, 1.0),
            brightness=(0.7, 0.85),
            motion=0.15,
            cuts_per_min=20,
            texture="stripes",
            texture_strength=0.5,
            shape="circle",
            shape_count=(2, 4),
            beat_pulse=0.15,
        ),
        (
            ("Los", "Orquesta", "Conjunto", "Sonora", "Grupo", "Banda", "Combo", "Trío"),
            (
                "Del Sol",
                "Caribe",
                "La Habana",
                "Tropical",
                "Bravo",
                "Candela",
                "Mambo",
                "Del Barrio",
            ),
        ),
        (
            ("Bailando", "Corazón", "Noche", "Mi", "Fuego", "Salsa", "Calle", "Luna"),
            ("Caliente", "Tropical", "Amor", "Son", "Rumba", "Cumbia", "Del Mar", "Bonita"),
        ),
    ),
    "Metal": GenreStyle(
        "Metal",
        SoundStyle(  # double kick, crack snare, palm-muted distorted power-chord chugs
            tempo=(140, 190),
            minor_prob=0.95,
            drums=(
                ("kick_metal", "xxxxxxxxxxxxxxxx"),
                ("snare_tight", "....X.......X..."),
                ("ohat", "x.x.x.x.x.x.x.x."),
                ("crash", "x.......x......."),
            ),
            fill="....X.....xxXXXX",
            crash_every=4,
            bass="R.R.R.R.R.R.R.R.",
            bass_tone="pick",
            comp="xxxxxx.xxxxx.xX.",
            comp_tone="power",
            drive=9.0,
            progressions_major=(((0, "5"), (10, "5"), (5, "5"), (0, "5")),),
            progressions_minor=(
                ((0, "5"), (1, "5"), (0, "5"), (10, "5")),
                ((0, "5"), (8, "5"), (10, "5"), (0, "5")),
                ((0, "5"), (5, "5"), (6, "5"), (3, "5")),
            ),
            groove=0.3,
            mix=(1.0, 0.6, 1.1, 0.0),
            headroom=1.8,
        ),
        PictureStyle(
            hue=(-5, 12),
            accent_hue=(0, 15),
            saturation=(0.7, 0.9),
            brightness=(0.1, 0.2),
            motion=0.35,
            cuts_per_min=45,
            texture="noise",
            texture_strength=0.3,
            shape="bar",
            shape_count=(2, 4),
            beat_pulse=0.3,
        ),
        (
            ("Iron", "Black", "Grave", "Steel", "Doom", "Chaos", "Frost", "Blood"),
            ("Serpent", "Throne", "Legion", "Hammer", "Warden", "Abyss", "Reaper", "Forge"),
        ),
        (
            (
                "Burning",
                "Eternal",
                "Crimson",
                "Shattered",
                "Infernal",
                "Cold",
                "Rise of the",
                "Sons of",
            ),
            ("Skies", "Oath", "Empire", "Wrath", "Thunder", "Void", "Titans", "Steel"),
        ),
    ),
    "Pop": GenreStyle(
        "Pop",
        SoundStyle(  # clean and quantised: kick, clap backbeat, synth pad, square-wave hook
            tempo=(100, 125),
            minor_prob=0.3,
            drums=(
                ("kick", "x.......x.x....."),
                ("clap", "....x.......x..."),
                ("hat", "x.x.x.x.x.x.x.x."),
            ),
            bass="R.R.R.R.R.R.R.R.",
            bass_tone="synth",
            comp="x...............",
            comp_tone="pad",
            lead="x.x.x...x.x.x.?.",
            lead_tone="square",
            progressions_major=(
                ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),
                ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj")),
                ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),
            ),
            progressions_minor=(((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),),
            crash_every=8,
            breakdown=True,
            groove=0.85,
            mix=(1.0, 0.7, 0.5, 0.5),
            headroom=2.5,
        ),
        PictureStyle(
            hue=(310, 340),
            accent_hue=(170, 200),
            saturation=(0.65, 0.85),
            brightness=(0.72, 0.9),
            motion=0.2,
            cuts_per_min=40,
            texture="dots",
            texture_strength=0.35,
            shape="circle",
            shape_count=(3, 5),
            beat_pulse=0.2,
        ),
        (
            ("Ava", "Mia", "Luna", "Jay", "Nova", "Zoe", "Leo", "Skye"),
            ("Rivers", "Bell", "Starr", "Vance", "Monroe", "Lane", "Kingsley", "Hart"),
        ),
        (
            ("Neon", "Sugar", "Summer", "Golden", "Electric", "Paper", "Candy", "Starlight"),
            ("Hearts", "Crush", "Lights", "Dreams", "Kiss", "Party", "Love", "Forever"),
        ),
    ),
    "Reggae": GenreStyle(
        "Reggae",
        SoundStyle(  # one drop: kick and rim only on beat three, off-beat skank chops, deep bass
            tempo=(70, 85),
            swing=(0.5, 0.58),
            minor_prob=0.5,
            humanize=0.005,
            drums=(
                ("kick", "........x......."),
                ("rim", "........x......."),
                ("hat", "o.o.o.o.o.o.o.o."),
            ),
            bass="..R.R...F.F..T..",
            bass_tone="electric",
            comp="..x...x...x...x.",
            comp_tone="skank",
            progressions_major=(
                ((0, "maj"), (5, "maj")),
                ((0, "maj"), (7, "maj"), (5, "maj"), (7, "maj")),
            ),
            progressions_minor=(((0, "min"), (5, "min")), ((0, "m7"), (10, "maj"))),
            groove=0.85,
            mix=(0.8, 1.0, 0.6, 0.0),
        ),
        PictureStyle(
            hue=(95, 130),
            accent_hue=(45, 60),
            saturation=(0.65, 0.85),
            brightness=(0.45, 0.62),
            motion=0.06,
            cuts_per_min=10,
            texture="stripes",
            texture_strength=0.4,
            shape="circle",
            shape_count=(1, 3),
            beat_pulse=0.1,
        ),
        (
            ("Jah", "Rasta", "King", "Lion", "Dread", "Ras", "Bongo", "Roots"),
            (
                "Selassie",
                "Tafari",
                "Youth",
                "Dub Crew",
                "Irie",
                "Zion Band",
                "Kaya",
                "Sound System",
            ),
        ),
        (
            ("One", "Zion", "Irie", "Babylon", "Island", "Roots", "Kingston", "Sunshine"),
            ("Love", "Train", "Rock", "Skank", "Vibration", "Dub", "Riddim", "Morning"),
        ),
    ),
    "Rock": GenreStyle(
        "Rock",
        SoundStyle(  # straight backbeat, crunchy eighth-note power chords, overdriven lead licks
            tempo=(110, 140),
            minor_prob=0.4,
            humanize=0.005,
            drums=(
                ("kick", "x.......x.x....."),
                ("snare", "....x.......x..."),
                ("hat", "x.x.x.x.x.x.x.x."),
            ),
            fill="....x.......xxxx",
            crash_every=4,
            bass="R.R.R.R.R.R.R.R.",
            bass_tone="pick",
            comp="x.x.x.x.x.x.x.x.",
            comp_tone="power",
            drive=3.5,
            lead="....x.x.....x.?.",
            lead_tone="ks",
            lead_drive=3.0,
            progressions_major=(
                ((0, "5"), (10, "5"), (5, "5"), (0, "5")),
                ((0, "5"), (5, "5"), (7, "5"), (5, "5")),
            ),
            progressions_minor=(
                ((0, "5"), (8, "5"), (10, "5"), (0, "5")),
                ((0, "5"), (3, "5"), (10, "5"), (5, "5")),
            ),
            groove=0.55,
            mix=(1.0, 0.7, 0.7, 0.4),
            headroom=2.5,
        ),
        PictureStyle(
            hue=(10, 28),
            accent_hue=(30, 50),
            saturation=(0.6, 0.8),
            brightness=(0.32, 0.48),
            motion=0.18,
            cuts_per_min=24,
            texture="grain",
            texture_strength=0.5,
            shape="bar",
            shape_count=(2, 3),
            beat_pulse=0.2,
        ),
        (
            (
                "The Loud",
                "The Broken",
                "The Electric",
                "The Velvet",
                "The Rusty",
                "The Wild",
                "The Midnight",
                "The Silver",
            ),
            ("Amps", "Rebels", "Hearts", "Wolves", "Engines", "Kings", "Radios", "Crows"),
        ),
        (
            ("Highway", "Thunder", "Rebel", "Broken", "Burning", "Electric", "Gasoline", "Wild"),
            ("Road", "Heart", "Night", "Fire", "Rain", "Soul", "Dreams", "Ride"),
        ),
    ),
}
GENRES: tuple[str, ...] = tuple(GENRE_STYLES)


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).casefold()


_LOOKUP = {_key(g): g for g in GENRES}


def resolve_genre(name: str) -> str:
    """Canonical genre name ("hip-hop" -> "Hip Hop"); raises UnknownGenre."""
    try:
        return _LOOKUP[_key(name)]
    except (KeyError, TypeError):
        raise UnknownGenre(name) from None


def genre_slug(genre: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", resolve_genre(genre).lower()).strip("-")


@dataclass(frozen=True)
class ClipPlan:
    """Every per-clip choice, drawn from the seed before anything is rendered."""

    genre: str
    index: int
    seed: int
    duration: float
    title: str
    artist: str
    music: MusicParams
    audio_seed: np.random.SeedSequence
    video_seed: np.random.SeedSequence

    @property
    def style(self) -> GenreStyle:
        return GENRE_STYLES[self.genre]


def plan_clip(genre: str, index: int, seed: int, duration: float | None = None) -> ClipPlan:
    """Draw the clip's duration, names and musical parameters from (genre, index, seed)."""
    genre = resolve_genre(genre)
    if index < 0:
        raise ValueError(f"index must be >= 0, got {index}")
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    # crc32, not hash(): str hashes are salted per process, and clips must be reproducible.
    genre_id = zlib.crc32(genre.encode())
    meta_ss, audio_ss, video_ss = np.random.SeedSequence([seed, genre_id, index]).spawn(3)
    rng = np.random.default_rng(meta_ss)
    style = GENRE_STYLES[genre]
    drawn = round(float(rng.uniform(*DURATION_RANGE)), 1)
    music = plan_music(style.sound, rng)
    # Titles walk a per-(genre, seed) permutation so a catalog has no duplicate titles.
    first, second = style.titles
    combos = [f"{a} {b}" for a in first for b in second]
    order = np.random.default_rng([seed, genre_id]).permutation(len(combos))
    title = combos[order[index % len(combos)]]
    if index >= len(combos):
        title += f" (Take {index // len(combos) + 1})"
    a_first, a_second = style.artists
    artist = f"{a_first[rng.integers(len(a_first))]} {a_second[rng.integers(len(a_second))]}"
    return ClipPlan(
        genre=genre,
        index=index,
        seed=seed,
        duration=float(duration) if duration is not None else drawn,
        title=title,
        artist=artist,
        music=music,
        audio_seed=audio_ss,
        video_seed=video_ss,
    )


def render_clip_audio(plan: ClipPlan) -> RenderedAudio:
    """The clip's soundtrack (22050 Hz mono float32), identical on every call."""
    return render_audio(
        plan.style.sound, plan.music, np.random.default_rng(plan.audio_seed), plan.duration
    )


def render_clip_frames(
    plan: ClipPlan, size: tuple[int, int] = (320, 180), fps: int = 15
) -> Iterator[np.ndarray]:
    """The clip's frames, (h, w, 3) uint8 RGB, one at a time, identical on every call."""
    return render_frames(
        plan.style.picture,
        np.random.default_rng(plan.video_seed),
        plan.duration,
        plan.music.tempo_bpm,
        size,
        fps,
    )


def _write_wav(path: Path, samples: np.ndarray, sr: int) -> None:
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def generate_demo_video(
    genre: str,
    index: int,
    seed: int,
    out_path: Path,
    duration: float | None = None,
    size: tuple[int, int] = (320, 180),
    fps: int = 15,
) -> DemoClip:
    """Render one clip and encode it as H.264 (yuv420p) + AAC MP4 at `out_path`.

    Raises UnknownGenre, ValueError (bad size/fps/duration) or DemoGenerationError (ffmpeg).
    The file appears atomically: it is written beside out_path and renamed when complete.
    """
    w, h = size
    if w < 16 or h < 16 or w % 2 or h % 2:
        raise ValueError(f"size must be even and at least 16x16 (yuv420p), got {size}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    plan = plan_clip(genre, index, seed, duration)
    if round(plan.duration * fps) < 1:
        raise ValueError(f"duration {plan.duration}s is shorter than one frame at {fps} fps")
    audio = render_clip_audio(plan)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.stem}.partial.mp4")

    with tempfile.TemporaryDirectory(prefix="mvsim-demo-") as tmp:
        wav = Path(tmp) / "audio.wav"
        _write_wav(wav, audio.samples, audio.sr)
        log = Path(tmp) / "ffmpeg.log"
        cmd = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error",
            "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate",
            str(fps), "-i", "pipe:0", "-i", str(wav), "-map", "0:v:0", "-map", "1:a:0",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p",
            "-g", str(fps * 2), "-threads", "1",  # one thread: deterministic and core-friendly
            "-c:a", "aac", "-aac_coder", "fast", "-b:a", "96k", "-t", f"{plan.duration:.3f}",
            "-metadata", f"title={plan.title}", "-metadata", f"artist={plan.artist}",
            "-metadata", f"genre={plan.genre}", "-metadata", "comment=mvsim demo",
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-movflags", "+faststart", "-f", "mp4", str(partial),
        ]  # fmt: skip
        with open(log, "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err)
            try:
                assert proc.stdin is not None
                # Frames are streamed one by one: a clip never sits in memory as a whole.
                for frame in render_clip_frames(plan, size, fps):
                    proc.stdin.write(frame.data)
                proc.stdin.close()
                rc = proc.wait(timeout=300)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                proc.kill()
                rc = proc.wait()
            except BaseException:  # e.g. KeyboardInterrupt: don't leave ffmpeg behind
                proc.kill()
                proc.wait()
                partial.unlink(missing_ok=True)
                raise
        if rc != 0:
            partial.unlink(missing_ok=True)
            message = log.read_text(errors="replace").strip()[-2000:]
            raise DemoGenerationError(f"ffmpeg failed ({rc}) for {out_path.name}: {message}")
    partial.replace(out_path)
    return DemoClip(
        path=out_path,
        genre=plan.genre,
        title=plan.title,
        artist=plan.artist,
        duration=plan.duration,
        tempo_bpm=plan.music.tempo_bpm,
        key=plan.music.key_name,
        mode=plan.music.mode,
        energy=audio.energy,
        danceability=audio.danceability,
    )


def generate_demo_catalog(
    out_dir: Path,
    per_genre: int,
    seed: int,
    genres: list[str] | None = None,
    duration: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    size: tuple[int, int] = (320, 180),
    fps: int = 15,
) -> list[DemoClip]:
    """Generate `per_genre` clips for each genre into out_dir/<genre-slug>-<index>.mp4.

    Genres are validated before anything is written (UnknownGenre lists the valid names).
    Clips are generated round-robin over genres, so an interrupted run is still balanced.
    `progress(done, total)` is called after each clip.
    """
    if per_genre < 0:
        raise ValueError(f"per_genre must be >= 0, got {per_genre}")
    names = [resolve_genre(g) for g in (genres if genres is not None else GENRES)]
    names = list(dict.fromkeys(names))  # drop duplicates, keep order
    out_dir = Path(out_dir)
    total = per_genre * len(names)
    clips: list[DemoClip] = []
    for index in range(per_genre):
        for genre in names:
            path = out_dir / f"{genre_slug(genre)}-{index:03d}.mp4"
            clips.append(generate_demo_video(genre, index, seed, path, duration, size, fps))
            if progress is not None:
                progress(len(clips), total)
    return clips
