"""Import media files from a folder, and track metadata from a CSV, into the catalog.

Folder import: each supported file is copied into MEDIA_ROOT/videos/ and becomes a `Video`
(source "local") whose feature extraction is queued. Byte-identical files (sha256) are not
added twice. A file and its row exist together or not at all: copy to a temporary name, create
the row in a transaction, rename last, and clean up whatever exists when something fails.

Metadata import: each CSV row updates one video's title/artist/genre and `TrackMetadata`
(values marked `sources[field] = "import"`); a bad row is reported with its line number and
changes nothing, good rows are kept.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.text import get_valid_filename

from catalog.genres import UnknownGenre
from catalog.intake import DuplicateContent, add_video, duplicate_of
from catalog.models import Genre, TrackMetadata, ValueSource, Video, VideoSource
from catalog.selectors import catalog_videos, genre_by_name
from catalog.services import VIDEO_DIR, file_sha256, genre_named, media_name
from mvsite.storage import publish_media

MEDIA_EXTENSIONS = frozenset({".mp4", ".mkv", ".webm", ".mov", ".mp3", ".wav", ".ogg", ".flac"})
COPY_CHUNK = 1 << 20


class ImportInputError(ValueError):
    """Bad input for an import (folder, genre, CSV): the message is for the user."""


# --- folder import -----------------------------------------------------------------------------


@dataclass
class FolderImportResult:
    imported: list[Video] = field(default_factory=list)
    duplicates: list[tuple[Path, Video]] = field(default_factory=list)  # (file, existing video)
    skipped: list[Path] = field(default_factory=list)  # not a supported media file
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (file, reason)


def scan_folder(root: Path) -> tuple[list[Path], list[Path]]:
    """(media files, other files) under root, recursively, in a stable order.

    Raises ImportInputError when root is missing, not a directory or unreadable.
    """
    if not root.exists():
        raise ImportInputError(f"{root} does not exist.")
    if not root.is_dir():
        raise ImportInputError(f"{root} is not a directory.")
    if not os.access(root, os.R_OK | os.X_OK):
        raise ImportInputError(f"{root} is not readable (permission denied).")
    try:
        files = sorted(p for p in root.rglob("*") if p.is_file())
    except OSError as exc:
        raise ImportInputError(f"Cannot read {root}: {exc}") from exc
    media = [p for p in files if p.suffix.lower() in MEDIA_EXTENSIONS]
    others = [p for p in files if p.suffix.lower() not in MEDIA_EXTENSIONS]
    return media, others


def title_from_filename(path: Path) -> str:
    return re.sub(r"[_\s]+", " ", path.stem).strip()[:300] or path.name[:300]


def import_media_file(
    path: Path,
    *,
    genre: Genre | None,
    title: str | None = None,
    on_created: Callable[[Video], object] | None = None,
) -> Video:
    """Copy one file into the catalog; ``on_created(video)`` runs in the same transaction
    (the pipeline starts it there).

    Raises DuplicateContent when a video with the same bytes exists, OSError when the file
    can't be read or written. Leaves no file without a row and no row without a file.
    """
    sha = file_sha256(path)
    if (duplicate := duplicate_of(sha256=sha)) is not None:  # checked before copying
        raise duplicate
    target_dir = Path(settings.MEDIA_ROOT) / VIDEO_DIR
    target_dir.mkdir(parents=True, exist_ok=True)
    stem = get_valid_filename(path.stem)[:80] or "media"
    final = target_dir / f"{stem}-{sha[:12]}{path.suffix.lower()}"
    # A dot name: never mistaken for media (or for yt-dlp's "<id>.<ext>") if we are killed.
    temp = target_dir / f".import-{uuid.uuid4().hex}.part"
    renamed = False

    def then(video: Video) -> None:
        nonlocal renamed
        if on_created is not None:
            on_created(video)
        # Last step inside the transaction: if it fails, the row is rolled back.
        os.replace(temp, final)
        renamed = True
        publish_media(final)  # a remote media storage gets it now (mvsite/storage.py)

    try:
        copied_sha = _copy_with_sha256(path, temp)
        if copied_sha != sha:
            raise OSError(f"{path} changed while it was being imported; try again")
        return add_video(
            title=title or title_from_filename(path),
            source=VideoSource.LOCAL,
            original_filename=path.name[:300],
            content_sha256=sha,
            media=media_name(final),
            genre=genre,
            then=then,
        )
    except BaseException:  # DuplicateContent too: another import took the same file meanwhile
        _remove(temp, final if renamed else None)
        raise


def import_folder(
    root: Path,
    *,
    genre: Genre | None = None,
    genre_from_subdir: bool = False,
    create_subdir_genres: bool = True,
    on_file: Callable[[int, int], None] | None = None,
    on_created: Callable[[Video], object] | None = None,
) -> FolderImportResult:
    """Import every supported file under root (see import_media_file).

    With genre_from_subdir the first folder below root names the genre (files directly in
    root get `genre`); a missing genre is created unless create_subdir_genres is False.
    One file's failure is recorded and the import goes on. `on_file(done, total)` is called
    after each file.
    """
    media, others = scan_folder(root)
    result = FolderImportResult(skipped=others)
    genres: dict[str, Genre] = {}
    for done, path in enumerate(media, start=1):
        try:
            file_genre = genre
            relative = path.relative_to(root)
            if genre_from_subdir and len(relative.parts) > 1:
                subdir = relative.parts[0]
                if subdir not in genres:
                    genres[subdir] = (
                        genre_named(subdir) if create_subdir_genres else genre_by_name(subdir)
                    )
                file_genre = genres[subdir]
            video = import_media_file(path, genre=file_genre, on_created=on_created)
        except DuplicateContent as exc:
            result.duplicates.append((path, exc.existing))
        except (OSError, ImportInputError, UnknownGenre) as exc:
            result.failed.append((path, str(exc)))
        else:
            result.imported.append(video)
        if on_file is not None:
            on_file(done, len(media))
    return result


def _copy_with_sha256(source: Path, target: Path) -> str:
    digest = hashlib.sha256()
    with open(source, "rb") as src, open(target, "xb") as dst:
        while chunk := src.read(COPY_CHUNK):
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


def _remove(*paths: Path | None) -> None:
    for path in paths:
        if path is not None:
            path.unlink(missing_ok=True)


# --- metadata import ----------------------------------------------------------------------------

KEY_COLUMNS = ("file", "youtube_id")
TEXT_COLUMNS = ("title", "artist", "genre", "spotify_id")
# Accepted ranges, as Spotify defines the descriptors (loudness in dB, tempo in BPM).
RANGES: dict[str, tuple[float, float]] = {
    "danceability": (0.0, 1.0),
    "energy": (0.0, 1.0),
    "loudness": (-60.0, 5.0),
    "speechiness": (0.0, 1.0),
    "acousticness": (0.0, 1.0),
    "instrumentalness": (0.0, 1.0),
    "liveness": (0.0, 1.0),
    "valence": (0.0, 1.0),
    "tempo": (0.0, 300.0),
}
assert set(RANGES) == set(TrackMetadata.AUDIO_FEATURE_FIELDS)
KNOWN_COLUMNS = frozenset({*KEY_COLUMNS, *TEXT_COLUMNS, *RANGES})


@dataclass
class MetadataImportResult:
    updated: list[tuple[int, Video]] = field(default_factory=list)  # (line, video)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    ignored_columns: list[str] = field(default_factory=list)
    blank_rows: int = 0


class RowError(ValueError):
    pass


def read_metadata_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(columns, [(line number, row)]), column names lower-cased; ImportInputError if unusable."""
    if not path.exists():
        raise ImportInputError(f"{path} does not exist.")
    if not path.is_file():
        raise ImportInputError(f"{path} is not a file.")
    if path.suffix.lower() != ".csv":
        raise ImportInputError(f"{path} is not a CSV file (expected a .csv name).")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise ImportInputError(f"{path} is empty: expected a header row.")
            columns = [name.strip().lower() for name in header]
            rows = []
            for values in reader:
                row = {c: v.strip() for c, v in zip(columns, values, strict=False) if c}
                if len(values) > len(columns) and any(v.strip() for v in values[len(columns) :]):
                    row["\0extra"] = "x"  # more cells than columns: reported by the row check
                rows.append((reader.line_num, row))
    except UnicodeDecodeError as exc:
        raise ImportInputError(f"{path} is not a UTF-8 text CSV file ({exc.reason}).") from exc
    except (OSError, csv.Error) as exc:
        raise ImportInputError(f"Cannot read {path} as CSV: {exc}") from exc
    if not any(key in columns for key in KEY_COLUMNS):
        raise ImportInputError(
            f"{path} has no key column: it needs a 'file' or a 'youtube_id' column "
            f"(found: {', '.join(c for c in columns if c) or 'none'})."
        )
    return columns, rows


def import_metadata(path: Path) -> MetadataImportResult:
    """Apply every row of the CSV; a bad row is skipped with its line number, others kept."""
    columns, rows = read_metadata_csv(path)
    result = MetadataImportResult(
        ignored_columns=[c for c in columns if c and c not in KNOWN_COLUMNS]
    )
    for line, row in rows:
        if not any(row.values()):
            result.blank_rows += 1
            continue
        try:
            video = apply_metadata_row(row)
        except IntegrityError:
            # A concurrent change took this row's spotify_id between our check and the write.
            result.errors.append((line, "spotify_id already belongs to another video"))
        except RowError as exc:
            result.errors.append((line, str(exc)))
        else:
            result.updated.append((line, video))
    return result


def apply_metadata_row(row: dict[str, str]) -> Video:
    """Validate one row completely, then write it in one transaction. Raises RowError."""
    if "\0extra" in row:
        raise RowError("more cells than there are columns")
    video = _video_for_row(row)
    values: dict[str, float] = {}
    for name, (low, high) in RANGES.items():
        raw = row.get(name, "")
        if raw == "":
            continue  # empty cell: leave the current value
        try:
            value = float(raw)
        except ValueError:
            raise RowError(f"{name} {raw!r} is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise RowError(f"{name} {raw} is out of range ({low:g} to {high:g})")
        values[name] = value
    genre = None
    if row.get("genre"):
        try:
            genre = genre_by_name(row["genre"])
        except UnknownGenre as exc:
            raise RowError(str(exc).rstrip(".")) from None
    spotify_id = row.get("spotify_id") or None
    if spotify_id:
        other = TrackMetadata.objects.filter(spotify_id=spotify_id).exclude(video=video).first()
        if other is not None:
            raise RowError(f"spotify_id {spotify_id} already belongs to video {other.video_id}")

    with transaction.atomic():
        video = Video.objects.select_for_update().get(pk=video.pk)
        video_fields = []
        for name in ("title", "artist"):
            if row.get(name):
                setattr(video, name, row[name][:300])
                video_fields.append(name)
        if genre is not None:
            video.genre = genre
            video_fields.append("genre")
        if video_fields:
            video.save(update_fields=[*video_fields, "updated_at"])
        if values or spotify_id:
            metadata, _ = TrackMetadata.objects.select_for_update().get_or_create(video=video)
            for name, value in values.items():
                setattr(metadata, name, value)
                metadata.sources[name] = ValueSource.IMPORT
            if spotify_id:
                metadata.spotify_id = spotify_id
            metadata.save()
    return video


def _video_for_row(row: dict[str, str]) -> Video:
    catalog = catalog_videos()
    if youtube_id := row.get("youtube_id"):
        video = catalog.filter(youtube_id=youtube_id).first()
        if video is None:
            raise RowError(f"no catalog video with youtube_id {youtube_id!r}")
        return video
    if name := row.get("file"):
        matches = list(catalog.filter(original_filename=Path(name).name)[:2])
        if not matches:
            raise RowError(f"no catalog video imported from a file named {Path(name).name!r}")
        if len(matches) > 1:
            raise RowError(f"several videos were imported from a file named {Path(name).name!r}")
        return matches[0]
    raise RowError("neither file nor youtube_id is given")
