"""Media and model artifacts through Django's storage API (settings.STORAGES).

Two storages: ``default`` holds media — uploads, downloads, imported and demo files,
thumbnails, the model's plots (what pages show, at MEDIA_URL) — and ``artifacts`` what workers
load: trained models, scalers, genre lists, training reports. By default both are MEDIA_ROOT
on local disk; with ``MVSIM_STORAGE=s3`` they are S3-compatible buckets (django-storages), and
every web and worker host can run anywhere (docs/architecture.md, "Scale-out").

Programs that open paths (ffmpeg, yt-dlp, Keras) still get paths:

* **Reading**: :func:`local_copy` yields the file itself on local storage, else a copy in a
  temporary folder that is deleted when the block ends (a worker keeps nothing it fetched).
* **Writing source media**: downloads, uploads and imports are written under MEDIA_ROOT (on
  S3, each host's working folder) and :func:`publish_media` puts them into the storage (on
  local storage they already are there: nothing to do).
* **Derived files** (thumbnails, artifacts) are written with :func:`write_bytes` /
  :func:`store_file`, which replace a file of the same name (fixed names: ``thumbs/7/poster.webp``).

Local storage keeps its fast, atomic ways (a rename into place); the generic branch uses only
``open``/``save``/``delete``/``exists``/``listdir``, so any Django storage backend works.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage, storages

MEDIA = "default"
ARTIFACTS = "artifacts"


class StorageError(OSError):
    """The storage could not read or write a file (e.g. S3 unreachable or refusing): an
    OSError, so callers that handle a full disk handle this too."""


def media_storage() -> Storage:
    return storages[MEDIA]


def artifact_storage() -> Storage:
    return storages[ARTIFACTS]


def as_storage(root: Storage | str | os.PathLike[str]) -> Storage:
    """A storage, or a folder on local disk as one (tests and tools that name a folder)."""
    if isinstance(root, Storage):
        return root
    return FileSystemStorage(location=os.fspath(root))


def local_path(storage: Storage, name: str) -> Path | None:
    """Where the file lies on this host's disk, or None when the storage is not local."""
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return None


def describe(storage: Storage) -> str:
    """Which storage this is, for cache keys and messages (a folder, or backend + bucket)."""
    if isinstance(storage, FileSystemStorage):
        return str(Path(storage.location).resolve())
    return f"{type(storage).__name__}:{getattr(storage, 'bucket_name', '')}"


@contextmanager
def local_copy(storage: Storage, name: str) -> Iterator[Path]:
    """A path to the stored file ``name`` for programs that open paths (ffmpeg, Keras): the
    file itself on local storage; else a copy in a temporary folder, deleted afterwards.
    A missing file raises FileNotFoundError."""
    path = local_path(storage, name)
    if path is not None:
        yield path
        return
    folder = Path(tempfile.mkdtemp(prefix="mvsim-fetch-"))
    try:
        copy = folder / PurePosixPath(name).name  # the same name: tools look at the extension
        try:
            if not storage.exists(name):
                raise FileNotFoundError(f"{name} is not in the storage")
            with storage.open(name, "rb") as source, open(copy, "wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
        except OSError:
            raise
        except Exception as exc:  # boto3/botocore errors are not OSErrors
            raise StorageError(f"could not fetch {name}: {exc}") from exc
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _replace_local(target: Path, write) -> None:
    """Write a file next to ``target`` and rename it into place: a reader sees the old file or
    the new one, never half of one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        write(temp)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _save(storage: Storage, name: str, content: File) -> None:
    try:
        saved = storage.save(name, content)
    except OSError:
        raise
    except Exception as exc:
        raise StorageError(f"could not store {name}: {exc}") from exc
    if saved != name:  # a backend that renames instead of replacing (file_overwrite off)
        storage.delete(saved)
        raise StorageError(f"the storage kept {name} as {saved}: enable overwriting")


def write_bytes(storage: Storage, name: str, data: bytes) -> str:
    """Store ``data`` as ``name``, replacing what was there; returns the name."""
    path = local_path(storage, name)
    if path is not None:
        _replace_local(path, lambda temp: temp.write_bytes(data))
    else:
        _save(storage, name, ContentFile(data, name=PurePosixPath(name).name))
    return name


def store_file(storage: Storage, name: str, source: Path, *, move: bool = False) -> str:
    """Store the local file ``source`` as ``name`` (replacing what was there); with ``move`` the
    source is gone afterwards. A source that already is that stored file is left alone."""
    source = Path(source)
    path = local_path(storage, name)
    if path is not None:
        if path.resolve() == source.resolve():
            return name
        if move:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, path)
        else:
            _replace_local(path, lambda temp: shutil.copyfile(source, temp))
        return name
    with open(source, "rb") as handle:
        _save(storage, name, File(handle, name=PurePosixPath(name).name))
    if move:
        source.unlink(missing_ok=True)
    return name


def move(storage: Storage, source: str, target: str, data: bytes | None = None) -> None:
    """Rename the stored file ``source`` to ``target`` (replacing it). Object stores cannot
    rename: the file is written again (from ``data`` when the caller still has the bytes)
    and the source deleted."""
    src, dst = local_path(storage, source), local_path(storage, target)
    if src is not None and dst is not None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
        return
    if data is None:
        with storage.open(source, "rb") as handle:
            data = handle.read()
    write_bytes(storage, target, data)
    storage.delete(source)


def files(storage: Storage, folder: str) -> list[str]:
    """Names of the files directly in ``folder`` (none when it does not exist)."""
    try:
        _, names = storage.listdir(folder)
    except FileNotFoundError:
        return []
    return [f"{folder}/{n}" for n in names]


def folders(storage: Storage, folder: str) -> list[str]:
    """Names of the folders directly in ``folder`` (none when it does not exist)."""
    try:
        names, _ = storage.listdir(folder)
    except FileNotFoundError:
        return []
    return [f"{folder}/{n}" for n in names]


def delete_tree(storage: Storage, folder: str) -> None:
    """Delete ``folder`` and everything in it (nothing when it does not exist)."""
    path = local_path(storage, folder)
    if path is not None:
        shutil.rmtree(path, ignore_errors=True)
        return
    for sub in folders(storage, folder):
        delete_tree(storage, sub)
    for name in files(storage, folder):
        storage.delete(name)


# --- source media: written under MEDIA_ROOT, then put into the media storage ------------------


def media_name(path: Path | str) -> str:
    """The storage name of a file written under MEDIA_ROOT (``videos/a.mp4``)."""
    return Path(path).resolve().relative_to(Path(settings.MEDIA_ROOT).resolve()).as_posix()


def publish_media(path: Path | str) -> str:
    """Put a media file written under MEDIA_ROOT into the media storage and return its name.
    On local storage it already is there; on another storage it is uploaded and the local
    copy removed (a worker's disk keeps only what it is working on)."""
    return store_file(media_storage(), media_name(path), Path(path), move=True)


def discard_media(name: str) -> None:
    """Delete a media file that ended up without a row (best effort: logged by callers)."""
    if name:
        media_storage().delete(name)
