"""Media and model artifacts through Django's storage API (mvsite/storage.py): local disk by
default, an S3-compatible bucket with MVSIM_STORAGE=s3 — here moto's S3 server on 127.0.0.1,
spoken to over HTTP by django-storages and boto3 exactly as a real bucket would be."""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import SimpleNamespace

import boto3
import numpy as np
import pytest
from django.core.files.storage import FileSystemStorage, storages
from django.core.files.uploadedfile import SimpleUploadedFile
from moto.server import ThreadedMotoServer

from features import thumbnails
from features.models import Segment, VideoFeatures
from features.services import extract_video_features, remove_thumbnails
from ml import inference
from ml import services as ml_services
from ml.dataset import Scaler, load_labels, save_labels
from mvsite import env
from mvsite import storage as stored
from pipeline import intake
from search import presenters
from tests.factories import ModelVersionFactory, VideoFactory
from tests.mediagen import make_video

MEDIA_BUCKET, ARTIFACTS_BUCKET = "mvsim-media", "mvsim-artifacts"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret"}


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = _client(endpoint)
    for bucket in (MEDIA_BUCKET, ARTIFACTS_BUCKET):
        client.create_bucket(Bucket=bucket)
    yield endpoint
    server.stop()


def _client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def _keys(endpoint: str, bucket: str, prefix: str = "") -> set[str]:
    found = _client(endpoint).list_objects_v2(Bucket=bucket, Prefix=prefix)
    return {item["Key"] for item in found.get("Contents", [])}


def _s3_env(monkeypatch, endpoint: str, **extra: str) -> None:
    values = {
        "MVSIM_STORAGE": "s3",
        "AWS_STORAGE_BUCKET_NAME": MEDIA_BUCKET,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "MEDIA_URL": f"{endpoint}/{MEDIA_BUCKET}/",
        **CREDENTIALS,
        **extra,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def on_s3(s3_endpoint, settings, monkeypatch, tmp_path):
    """The settings MVSIM_STORAGE=s3 makes (mvsite.env), against the stand-in server; MEDIA_ROOT
    is this host's working folder only."""
    _s3_env(monkeypatch, s3_endpoint, MVSIM_ARTIFACTS_BUCKET=ARTIFACTS_BUCKET)
    backend = env.storage_backend()
    settings.MEDIA_URL = env.media_url(backend)
    settings.STORAGES = env.storages_config(backend, settings.MEDIA_URL)  # resets `storages`
    settings.MEDIA_ROOT = str(tmp_path / "work")
    settings.MUSIC_EMBEDDINGS = False  # no TensorFlow for extraction here
    return s3_endpoint


def _fetched_copies() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("mvsim-fetch-*")}


# --- settings ----------------------------------------------------------------------------------


def test_local_disk_is_the_default(settings, monkeypatch):
    for name in ("MVSIM_STORAGE", "MEDIA_URL"):
        monkeypatch.delenv(name, raising=False)
    assert env.storage_backend() == "local" and env.media_url("local") == "/media/"
    config = env.storages_config("local", "/media/")
    filesystem = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert config["default"] == config["artifacts"] == filesystem
    # No location: both follow MEDIA_ROOT, the layout of before (thumbs/, models/, videos/).
    for alias in ("default", "artifacts"):
        storage = storages[alias]
        assert isinstance(storage, FileSystemStorage)
        assert storage.path("thumbs/1/poster.webp") == str(
            Path(settings.MEDIA_ROOT).resolve() / "thumbs/1/poster.webp"
        )
    assert settings.MEDIA_URL == "/media/" and env.media_origin("/media/") is None


def test_s3_settings_from_the_environment(monkeypatch):
    _s3_env(monkeypatch, "http://127.0.0.1:9000", MEDIA_URL="https://cdn.example.org/m")
    url = env.media_url("s3")
    assert url == "https://cdn.example.org/m/"
    assert env.media_origin(url) == "https://cdn.example.org"  # added to the CSP's img/media-src
    config = env.storages_config("s3", url)
    media, artifacts = config["default"]["OPTIONS"], config["artifacts"]["OPTIONS"]
    assert config["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    assert media["bucket_name"] == MEDIA_BUCKET and media["endpoint_url"] == "http://127.0.0.1:9000"
    assert (media["custom_domain"], media["url_protocol"]) == ("cdn.example.org/m", "https:")
    assert media["file_overwrite"] and not media["querystring_auth"]
    assert artifacts is media  # no MVSIM_ARTIFACTS_BUCKET: the same bucket, under models/
    monkeypatch.setenv("MVSIM_ARTIFACTS_BUCKET", ARTIFACTS_BUCKET)
    artifacts = env.storages_config("s3", url)["artifacts"]["OPTIONS"]
    assert artifacts["bucket_name"] == ARTIFACTS_BUCKET and artifacts["querystring_auth"]
    monkeypatch.setenv("MEDIA_URL", "/media/")
    with pytest.raises(env.ConfigError, match="public URL"):
        env.media_url("s3")
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "")
    with pytest.raises(env.ConfigError, match="needs a bucket"):
        env.storages_config("s3", url)
    monkeypatch.setenv("MVSIM_STORAGE", "ftp")
    with pytest.raises(env.ConfigError, match="MVSIM_STORAGE"):
        env.storage_backend()


# --- media on S3 -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_extraction_reads_media_from_the_bucket_and_writes_thumbnails_there(on_s3, tmp_path):
    media = stored.media_storage()
    assert type(media).__name__ == "S3Storage"
    clip = make_video(tmp_path / "clip.mp4", 16.0, size="64x36")  # 2 segments
    stored.store_file(media, "videos/clip.mp4", clip)
    video = VideoFactory(pending=True, title="clip", media="videos/clip.mp4")
    before = _fetched_copies()

    extract_video_features(video.pk)

    names = {
        thumbnails.poster_name(video.pk),
        *(thumbnails.segment_name(video.pk, i) for i in range(2)),
    }
    assert _keys(on_s3, MEDIA_BUCKET, "thumbs/") == names  # no staging folder left
    poster = VideoFeatures.objects.get(video=video).poster
    assert poster == thumbnails.poster_name(video.pk)
    assert set(Segment.objects.filter(video=video).values_list("thumbnail", flat=True)) == (
        names - {poster}
    )
    with media.open(poster, "rb") as handle:  # read back through the storage: a WebP picture
        picture = thumbnails.decode(handle.read())
    assert picture is not None and picture.shape[1] == thumbnails.POSTER_WIDTH
    assert _fetched_copies() == before  # the local copy of the media is gone
    assert not (tmp_path / "work" / "thumbs").exists()  # nothing on local disk
    # Pages link them at MEDIA_URL (the bucket here), found with one listing.
    assert presenters.poster_url(video) == f"{on_s3}/{MEDIA_BUCKET}/{poster}"
    assert media.url(poster) == presenters.thumbnail_url(poster)

    # Again: the new set replaces the old (same names), a shorter file leaves no extra picture.
    stored.store_file(
        media, "videos/clip.mp4", make_video(tmp_path / "short.mp4", 6.0, size="64x36")
    )
    extract_video_features(video.pk)
    assert _keys(on_s3, MEDIA_BUCKET, "thumbs/") == names - {thumbnails.segment_name(video.pk, 1)}
    remove_thumbnails(video.pk)
    assert not _keys(on_s3, MEDIA_BUCKET, "thumbs/")


@pytest.mark.django_db
def test_an_upload_is_stored_in_the_bucket(on_s3, tmp_path, redis_conn):
    data = make_video(tmp_path / "up.mp4", 2.0, size="64x36").read_bytes()
    video = intake.submit_upload(SimpleUploadedFile("My clip.mov", data)).video
    assert video.media.name.startswith("uploads/") and video.media.name.endswith(".mp4")
    assert _keys(on_s3, MEDIA_BUCKET, "uploads/") == {video.media.name}
    assert not list((tmp_path / "work").rglob("*.mp4"))  # the working copy was removed
    with stored.local_copy(stored.media_storage(), video.media.name) as path:
        assert path.read_bytes() == data
    assert not path.exists()


# --- model artifacts on S3 ----------------------------------------------------------------------


class _Loader:
    """Stands in for ml.inference.LoadedModel.load (Keras would import TensorFlow: ~10 s here).
    It reads what the real one reads, from the paths it is given, and says what it saw."""

    seen: list[tuple[Path, ...]] = []

    @classmethod
    def load(cls, model_path: Path, scaler_path: Path, labels_path: Path) -> SimpleNamespace:
        cls.seen.append((model_path, scaler_path, labels_path))
        return SimpleNamespace(
            model=Path(model_path).read_bytes(),
            scaler=Scaler.load(scaler_path),
            labels=load_labels(labels_path),
        )


@pytest.mark.django_db
def test_model_artifacts_are_stored_and_loaded_once_from_the_bucket(on_s3, tmp_path, monkeypatch):
    monkeypatch.setattr(ml_services, "LoadedModel", _Loader)
    (tmp_path / "model.keras").write_bytes(b"a keras archive")
    scaler = Scaler(mean=np.zeros(200, np.float32), std=np.ones(200, np.float32))
    for name in ("history.png", "confusion.png", "report.json"):
        (tmp_path / name).write_bytes(b"x")
    result = SimpleNamespace(
        model_path=tmp_path / "model.keras",
        scaler_path=scaler.save(tmp_path / "scaler.npz"),
        labels_path=save_labels(["Blues", "Jazz"], tmp_path / "labels.json"),
        report_path=tmp_path / "report.json",
        history_plot_path=tmp_path / "history.png",
        confusion_plot_path=tmp_path / "confusion.png",
    )
    names = ml_services._store_artifacts(result, "models/v1")
    assert _keys(on_s3, ARTIFACTS_BUCKET) == {
        "models/v1/model.keras",
        "models/v1/scaler.npz",
        "models/v1/labels.json",
        "models/v1/report.json",
    }
    # The plots are pictures for the about page: media bucket, linked at MEDIA_URL.
    assert _keys(on_s3, MEDIA_BUCKET, "models/") == {
        "models/v1/history.png",
        "models/v1/confusion.png",
    }
    version = ModelVersionFactory(
        model_path=names["model_path"],
        scaler_path=names["scaler_path"],
        labels_path=names["labels_path"],
        history_plot_path=names["history_plot_path"],
    )
    assert presenters.artifact_url(version.history_plot_path) == (
        f"{on_s3}/{MEDIA_BUCKET}/models/v1/history.png"
    )

    inference.clear_cache()
    _Loader.seen.clear()
    before = _fetched_copies()
    loaded = ml_services.load_model(version)
    assert loaded.model == b"a keras archive" and loaded.labels == ["Blues", "Jazz"]
    assert loaded.scaler.width == 200
    (paths,) = _Loader.seen
    assert [p.name for p in paths] == ["model.keras", "scaler.npz", "labels.json"]
    assert not any(p.exists() for p in paths)  # fetched for the load, deleted after it
    assert _fetched_copies() == before
    # A worker keeps the loaded model across jobs: the next job fetches nothing (even with the
    # objects gone, the same model comes back).
    _client(on_s3).delete_object(Bucket=ARTIFACTS_BUCKET, Key=names["model_path"])
    assert ml_services.load_model(version) is loaded and len(_Loader.seen) == 1
    inference.clear_cache()
