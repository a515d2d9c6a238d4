"""Helpers for the evaluation tests: small catalogs whose features cluster by genre."""

from __future__ import annotations

import numpy as np

from catalog.models import Genre, Video
from features.models import BOTH_DIM, MUSIC_DIM
from search.materialize import refit_and_materialize_all
from tests.factories import GenreFactory, ModelVersionFactory, TrackMetadataFactory
from tests.search import add_video, ensure_definitions

GENRES = ("Ambient", "Metal", "Techno")
TEMPOS = {"Ambient": 80.0, "Metal": 120.0, "Techno": 160.0}
ENERGIES = {"Ambient": 0.2, "Metal": 0.8, "Techno": 0.5}


def add_with_metadata(raw: np.ndarray, genre: Genre | None, tempo, energy, **fields) -> Video:
    video = add_video(raw, genre=genre, **fields)
    TrackMetadataFactory(video=video, tempo=tempo, energy=energy, danceability=None)
    return video


def clustered_catalog(
    per_genre: int = 8, *, codes: bool = True, seed: int = 0
) -> dict[str, list[Video]]:
    """len(GENRES) x per_genre ready catalog videos: raw features = a genre centre + noise a
    third of the centres' spread, tempo/energy = the genre's value + a little noise;
    codes and music embeddings cluster the same way. With ``codes`` an active model version
    holds out every other video of each genre (its validation videos). Materialised (refit)
    before returning."""
    ensure_definitions()
    rng = np.random.default_rng(seed)
    scale = 10 ** rng.uniform(-1, 1, BOTH_DIM)  # unequal units, so standardisation matters
    by_genre: dict[str, list[Video]] = {}
    for name in GENRES:
        genre = GenreFactory(name=name)
        centre = rng.normal(0, 1, BOTH_DIM)
        code_centre = rng.normal(0, 1, 40)
        music_centre = np.abs(rng.normal(0, 1, MUSIC_DIM))
        videos = []
        for i in range(per_genre):
            raw = (centre + rng.normal(0, 0.35, BOTH_DIM)) * scale
            code = (code_centre + rng.normal(0, 0.3, 40)).astype(np.float32) if codes else None
            music = np.abs(music_centre + rng.normal(0, 0.2, MUSIC_DIM)).astype(np.float32)
            videos.append(
                add_with_metadata(
                    raw,
                    genre,
                    TEMPOS[name] + rng.normal(0, 3),
                    ENERGIES[name] + rng.normal(0, 0.03),
                    code=code,
                    music=music,
                    title=f"{name} {i}",
                )
            )
        by_genre[name] = videos
    if codes:
        held_out = [v.pk for videos in by_genre.values() for v in videos[::2]]
        ModelVersionFactory(name="clustered", is_active=True, metrics={"val_video_ids": held_out})
    refit_and_materialize_all()
    return by_genre


def line_catalog() -> list[Video]:
    """4 videos on a line at x = 0, 1, 3, 7 (every feature affine in x, so after
    standardisation Euclidean distances are proportional to |dx|); genres A A B B; tempos
    100, 110, 150, 300 BPM; energies 0.1, 0.2, 0.4, 0.8. No codes."""
    ensure_definitions()
    rng = np.random.default_rng(5)
    offset = rng.normal(0, 5, BOTH_DIM)
    direction = rng.choice([-1.0, 1.0], BOTH_DIM) * rng.uniform(0.5, 2.0, BOTH_DIM)
    a, b = GenreFactory(name="Line A"), GenreFactory(name="Line B")
    videos = [
        add_with_metadata(offset + x * direction, genre, tempo, energy, title=f"x={x:g}")
        for x, genre, tempo, energy in (
            (0, a, 100.0, 0.1),
            (1, a, 110.0, 0.2),
            (3, b, 150.0, 0.4),
            (7, b, 300.0, 0.8),
        )
    ]
    refit_and_materialize_all()
    return videos
