"""Writes of playlists: create, update (rename, replace or reorder the entries), smooth order,
delete, and the secret that allows editing. Every input error is ``InvalidPlaylist(param,
message)`` raised before anything is written."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence

import numpy as np
from django.db import transaction

from catalog.selectors import catalog_videos
from playlists.models import (
    DESCRIPTION_MAX,
    MAX_ENTRIES,
    NAME_MAX,
    Playlist,
    PlaylistEntry,
    PlaylistOrder,
)
from playlists.paths import greedy_path
from search.choices import Metric, Representation
from search.models import VideoVector
from search.ranking import InvalidSearchParameter, check_representation_and_metric
from search.seeds import ID_MAX


class InvalidPlaylist(ValueError):
    """Bad playlist input; ``param`` names the field (for API error bodies)."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        self.message = message
        super().__init__(f"{param}: {message}")


# --------------------------------------------------------------------------- the secret


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(playlist: Playlist, secret: str | None) -> bool:
    if not secret or not isinstance(secret, str):
        return False
    return hmac.compare_digest(playlist.secret_hash, hash_secret(secret))


def can_edit(playlist: Playlist, secret: str | None, user=None) -> bool:
    """The playlist's secret, or a staff user."""
    if user is not None and getattr(user, "is_staff", False) and user.is_active:
        return True
    return secret_matches(playlist, secret)


# --------------------------------------------------------------------------- validation


def clean_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidPlaylist("name", "give the playlist a name.")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise InvalidPlaylist("name", f"at most {NAME_MAX} characters, got {len(name)}.")
    return name


def clean_description(description) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        raise InvalidPlaylist("description", "description must be text.")
    if len(description) > DESCRIPTION_MAX:
        raise InvalidPlaylist(
            "description", f"at most {DESCRIPTION_MAX} characters, got {len(description)}."
        )
    return description.strip()


def clean_video_ids(ids, param: str = "video_ids") -> list[int]:
    """A list of distinct ids of existing catalog videos (at most MAX_ENTRIES), in order."""
    if ids is None:
        return []
    if not isinstance(ids, list | tuple):
        raise InvalidPlaylist(param, f"{param} must be a list of video ids.")
    if len(ids) > MAX_ENTRIES:
        raise InvalidPlaylist(param, f"at most {MAX_ENTRIES} videos, got {len(ids)}.")
    clean = []
    for value in ids:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ID_MAX:
            raise InvalidPlaylist(param, f"{str(value)[:40]!r} is not a video id.")
        clean.append(value)
    seen, dupes = set(), []
    for value in clean:
        if value in seen:
            dupes.append(value)
        seen.add(value)
    if dupes:
        raise InvalidPlaylist(param, f"duplicate video ids: {', '.join(map(str, dupes[:10]))}.")
    found = set(catalog_videos().filter(pk__in=clean).values_list("pk", flat=True))
    unknown = [value for value in clean if value not in found]
    if unknown:
        raise InvalidPlaylist(
            param, f"no catalog video with id {', '.join(map(str, unknown[:10]))}."
        )
    return clean


def _check_order_params(representation: str, metric: str) -> None:
    try:
        check_representation_and_metric(representation, metric)
    except InvalidSearchParameter as exc:
        raise InvalidPlaylist(exc.param, exc.message + ".") from None


# --------------------------------------------------------------------------- writes


def _write_entries(playlist: Playlist, ids: Sequence[int]) -> None:
    playlist.entries.all().delete()
    PlaylistEntry.objects.bulk_create(
        PlaylistEntry(playlist=playlist, video_id=vid, position=i) for i, vid in enumerate(ids)
    )


@transaction.atomic
def create_playlist(
    name, video_ids=(), *, description: str | None = "", ordering: str = PlaylistOrder.AS_GIVEN
) -> tuple[Playlist, str]:
    """A new playlist and its secret (returned once; only its hash is stored)."""
    name = clean_name(name)
    description = clean_description(description)
    ids = clean_video_ids(list(video_ids))
    secret = new_secret()
    playlist = Playlist.objects.create(
        name=name, description=description, secret_hash=hash_secret(secret), ordering=ordering
    )
    _write_entries(playlist, ids)
    return playlist, secret


@transaction.atomic
def update_playlist(playlist: Playlist, *, name=None, description=None, video_ids=None) -> Playlist:
    """Rename, describe, or replace the entries (a reorder is the same ids in a new order)."""
    if name is not None:
        playlist.name = clean_name(name)
    if description is not None:
        playlist.description = clean_description(description)
    ids = clean_video_ids(video_ids) if video_ids is not None else None
    if ids is not None:
        _write_entries(playlist, ids)
        playlist.ordering = PlaylistOrder.AS_GIVEN
        playlist.representation = playlist.metric = ""
    playlist.save()
    return playlist


def delete_playlist(playlist: Playlist) -> None:
    playlist.delete()


@transaction.atomic
def order_smooth(
    playlist: Playlist,
    *,
    representation: str = Representation.BOTH,
    metric: str = Metric.COSINE,
    start: int | None = None,
    end: int | None = None,
) -> list[int]:
    """Order the entries as a smooth path over ``representation`` (greedy nearest-neighbour
    walk from ``start``, default the first entry; with ``end``, a walk from start that ends
    there). Entries without that vector keep their order after the walk. Returns the ids."""
    _check_order_params(representation, metric)
    ids = list(playlist.entries.order_by("position").values_list("video_id", flat=True))
    for param, value in (("start", start), ("end", end)):
        if value is not None and value not in ids:
            raise InvalidPlaylist(param, f"video {value!r} is not in this playlist.")
    if not ids:
        return []
    found = dict(
        VideoVector.objects.filter(
            video_id__in=ids, **{f"{representation}__isnull": False}
        ).values_list("video_id", representation)
    )
    walkable = [vid for vid in ids if vid in found]
    rest = [vid for vid in ids if vid not in found]
    for param, value in (("start", start), ("end", end)):
        if value is not None and value not in found:
            raise InvalidPlaylist(param, f"video {value} has no '{representation}' vector.")
    order = walkable
    if walkable:
        first = start if start is not None else walkable[0]
        vectors = np.vstack([np.asarray(found[vid], dtype=np.float64) for vid in walkable])
        path = greedy_path(
            vectors,
            start=walkable.index(first),
            end=None if end is None else walkable.index(end),
            metric=metric,
        )
        order = [walkable[i] for i in path]
    ids = order + rest
    _write_entries(playlist, ids)
    playlist.ordering = PlaylistOrder.BETWEEN if end is not None else PlaylistOrder.SMOOTH
    playlist.representation, playlist.metric = representation, metric
    playlist.save(update_fields=["ordering", "representation", "metric", "updated_at"])
    return ids
