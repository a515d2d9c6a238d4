"""The web process never imports TensorFlow: it serves every page and starts a search in a
fresh process, which then must not have TensorFlow or Keras loaded."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.factories import VideoVectorFactory
from tests.pipeline.conftest import ROOT, worker_env

SCRIPT = textwrap.dedent(
    """
    import sys, django
    django.setup()
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.contrib.auth import get_user_model
    from tests.mediagen import make_video

    client = Client()
    video_id = int(sys.argv[1])
    for url in ("/", "/explore/", "/about/", f"/videos/{video_id}/",
                f"/videos/{video_id}/results/", f"/videos/{video_id}/progress.json",
                "/api/", "/api/videos/", f"/api/videos/{video_id}/similar/", "/api/schema/",
                "/api/docs/", "/healthz"):
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
    clip = make_video(sys.argv[2], 2.0, size="64x36").read_bytes()
    response = client.post("/api/searches/", {"file": SimpleUploadedFile("q.mp4", clip)})
    assert response.status_code == 202, response.content
    admin = get_user_model().objects.create_superuser("webcheck", "w@example.com", "pw")
    client.force_login(admin)
    for url in ("/admin/catalog/video/", "/admin/ml/modelversion/",
                "/admin/pipeline/stagerun/", f"/admin/catalog/video/{video_id}/change/"):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    loaded = sorted(name for name in ("tensorflow", "keras") if name in sys.modules)
    print("LOADED", loaded)
    """
)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_web_process_never_imports_tensorflow(tmp_path, redis_conn):
    video = VideoVectorFactory(video__title="served", with_code=True, seed=1).video
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(video.pk), str(tmp_path / "q.mp4")],
        cwd=ROOT,
        env=worker_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LOADED []" in result.stdout, result.stdout


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/jobs/abc/", "/api/no-such-thing/", "/api/videos/x/"])
def test_api_404s_are_json(client, url):
    response = client.get(url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_page_404s_stay_pages(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
