"""Synthetic catalogs for the benchmarks: clustered low-rank vectors and binary COPY rows.

Plain NumPy (no Django): a benchmark passes in what it needs from its own database.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from features.models import AUDIO_DIM, BOTH_DIM, MUSIC_DIM, VISUAL_DIM
from search.models import CODE_DIM

LATENT = 20
CLUSTERS = 10


class Generator:
    """Clustered low-rank vectors: latent = centre[genre] + N(0, 1); x = latent P + noise.

    ``spread`` scales the genre centres: 0.5 makes genres overlap like real ones (a
    nearest-centroid classifier on the latent gets ~70%, about what genre classifiers reach
    on music); 1.5 gives near-perfectly separated clusters (99.9%), a harder case for HNSW.
    """

    def __init__(self, spread: float = 0.5, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.centres = rng.normal(0, spread, (CLUSTERS, LATENT))
        self.proj = {
            "code": rng.normal(size=(LATENT, CODE_DIM)) / np.sqrt(LATENT),
            "both": rng.normal(size=(LATENT, BOTH_DIM)) / np.sqrt(LATENT),
            "music": rng.normal(size=(LATENT, MUSIC_DIM)) / np.sqrt(LATENT),
            "audio": rng.normal(size=(LATENT, AUDIO_DIM)) / np.sqrt(LATENT),
            "visual": rng.normal(size=(LATENT, VISUAL_DIM)) / np.sqrt(LATENT),
        }
        self.noise = {"code": 0.35, "both": 0.5, "music": 0.4, "audio": 0.6, "visual": 0.9}

    def latent(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        genre = rng.integers(0, CLUSTERS, n)
        return self.centres[genre] + rng.normal(size=(n, LATENT)), genre

    def project(self, latent: np.ndarray, column: str, rng: np.random.Generator) -> np.ndarray:
        out = latent @ self.proj[column]
        out += rng.normal(size=out.shape) * self.noise[column]
        return out.astype(np.float32)


def binary_copy_payload(columns: list[tuple[str, np.ndarray]]) -> bytes:
    """PGCOPY binary rows built with NumPy, no per-row Python. A 1-d int64 column is sent as
    8 bytes (bigint, or timestamptz = microseconds since 2000-01-01); a 2-d float32 column as
    a pgvector (uint16 dim, uint16 unused, big-endian float32s)."""
    n = len(columns[0][1])
    fields = [("nfields", ">i2")]
    for name, values in columns:
        fields.append((f"{name}_len", ">i4"))
        if values.ndim == 1:
            fields.append((name, ">i8"))
        else:
            fields += [(f"{name}_dim", ">u2"), (f"{name}_unused", ">u2")]
            fields.append((name, ">f4", (values.shape[1],)))
    rows = np.zeros(n, dtype=np.dtype(fields))
    rows["nfields"] = len(columns)
    for name, values in columns:
        if values.ndim == 1:
            rows[f"{name}_len"] = 8
        else:
            rows[f"{name}_len"] = 4 + 4 * values.shape[1]
            rows[f"{name}_dim"] = values.shape[1]
        rows[name] = values
    return rows.tobytes()


def pg_now(n: int) -> np.ndarray:
    """n copies of now() as timestamptz binary values."""
    delta = datetime.now(UTC) - datetime(2000, 1, 1, tzinfo=UTC)
    return np.full(n, int(delta.total_seconds() * 1e6), dtype=np.int64)


PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
PGCOPY_TRAILER = (-1).to_bytes(2, "big", signed=True)


def video_rows_text(
    ids: np.ndarray, genres: np.ndarray, genre_ids: list[int], cols: list[tuple[str, str, str]]
) -> str:
    """catalog_video rows as COPY text, for whatever columns the current schema has
    (``cols``: its (column_name, data_type, is_nullable) from information_schema)."""
    now = datetime.now(UTC).isoformat()
    rng = np.random.default_rng(int(ids[0]))
    predicted = np.where(rng.random(len(ids)) < 0.8, genres, rng.integers(0, CLUSTERS, len(ids)))
    known = {
        "title": lambda i, g, p: f"Synthetic song {i}",
        "artist": lambda i, g, p: f"Artist {i % 5000}",
        "source": lambda i, g, p: "demo",
        "status": lambda i, g, p: "ready",
        "is_query": lambda i, g, p: "f",
        "has_audio": lambda i, g, p: "t",
        "has_video": lambda i, g, p: "t",
        "duration_seconds": lambda i, g, p: "180",
        "genre_id": lambda i, g, p: str(genre_ids[g]),
        "predicted_genre_id": lambda i, g, p: str(genre_ids[p]),
        "predicted_confidence": lambda i, g, p: "0.8",
        "created_at": lambda i, g, p: now,
        "updated_at": lambda i, g, p: now,
    }
    makers = []
    names = []
    for name, data_type, nullable in cols:
        names.append(name)
        if name == "id":
            makers.append(lambda i, g, p: str(i))
        elif name in known:
            makers.append(known[name])
        elif nullable == "YES":
            makers.append(lambda i, g, p: r"\N")
        elif data_type in ("text", "character varying"):
            makers.append(lambda i, g, p: "")
        elif data_type == "boolean":
            makers.append(lambda i, g, p: "f")
        elif data_type.startswith("timestamp"):
            makers.append(lambda i, g, p: now)
        elif data_type in ("integer", "bigint", "smallint", "double precision", "real"):
            makers.append(lambda i, g, p: "0")
        else:
            raise SystemExit(f"catalog_video.{name} ({data_type}) needs a value in the bench")
    lines = (
        "\t".join(make(int(i), int(g), int(p)) for make in makers)
        for i, g, p in zip(ids, genres, predicted, strict=True)
    )
    return ",".join(names) + "\n" + "\n".join(lines) + "\n"
