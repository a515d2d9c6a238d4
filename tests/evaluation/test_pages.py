"""/evaluation/, run exports and /map/: stored work shown, bad input answered with 400s."""

import csv
import io
import re

import pytest

from catalog.models import Video
from evaluation.layout import MapParameters
from evaluation.models import EvaluationRun, WorkStatus
from evaluation.services import create_map, create_run, execute_map, execute_run
from features.models import FeatureDefinition
from search.materialize import refit_and_materialize_all
from tests.evaluation import add_with_metadata, clustered_catalog
from tests.search import raw_features

pytestmark = pytest.mark.django_db

QUICK = {"representations": ["both", "code"], "metrics": ["cosine"]}


def finished_run(parameters=QUICK) -> EvaluationRun:
    run = create_run(parameters)
    execute_run(run)
    return run


def test_no_run_yet(client):
    page = client.get("/evaluation/")
    assert page.status_code == 200 and b"No finished evaluation yet" in page.content


def test_a_run_renders_with_table_charts_and_graph_statistics(client):
    clustered_catalog(per_genre=3)
    run = finished_run()
    page = client.get("/evaluation/")
    html = page.content.decode()
    assert page.status_code == 200 and f"Run #{run.pk}" in html
    table = re.search(r'<table class="figures" id="figures-table">.*?</table>', html, re.S)[0]
    assert table.count("<tr>") == 1 + 4  # header + both/code x boost off/on
    assert "1.000 <span" in table  # both: precision@1 of tight clusters
    assert html.count('<svg class="chart"') == 2  # precision bars + agreement ratios
    assert 'id="graph-table"' in html and 'id="classifier"' in html
    assert "held-out (validation) videos" in html
    p1 = client.get("/evaluation/?figure=p1&metric=euclidean")
    assert p1.status_code == 200 and b"precision@1 <span" in p1.content


def test_two_runs_show_a_history_and_what_changed(client):
    clustered_catalog(per_genre=3)
    first = finished_run()
    extra = add_with_metadata(raw_features(1)[0], None, 90.0, 0.3, title="one more")
    FeatureDefinition.objects.filter(position=0).update(weight=2.0)
    refit_and_materialize_all()
    second = finished_run({**QUICK, "artist_filter": True})
    html = client.get("/evaluation/").content.decode()
    difference = re.search(r'<section class="card" id="difference">.*?</section>', html, re.S)[0]
    assert f"run #{first.pk} to run #{second.pk}" in difference
    assert "<td>catalog size</td><td>9</td><td>10</td>" in difference
    name = FeatureDefinition.objects.get(position=0).name
    assert f"<td>weight of {name}</td><td>1</td><td>2</td>" in difference
    assert "<td>parameter artist_filter</td>" in difference
    assert "both/cosine" in difference and "polyline" in html  # the history chart
    assert extra.pk
    chosen = client.get(f"/evaluation/?a={second.pk}&b={first.pk}").content.decode()
    assert f"run #{second.pk} to run #{first.pk}" in chosen


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("figure=p7", "figure: &#x27;p7&#x27; is not one of p1, p5, p10, map"),
        ("metric=manhattan", "metric: &#x27;manhattan&#x27; is not one of"),
        ("run=abc", "run: &#x27;abc&#x27; is not a run number"),
        ("run=999999", "run: there is no evaluation run #999999"),
        ("a=1", "b: &#x27;&#x27; is not a run number"),
    ],
)
def test_bad_parameters_are_400s_with_a_message(client, query, message):
    page = client.get(f"/evaluation/?{query}")
    assert page.status_code == 400 and message in page.content.decode()


def test_a_run_in_progress_shows_progress_and_has_no_figures(client):
    clustered_catalog(per_genre=2, codes=False)
    run = create_run(QUICK)
    EvaluationRun.objects.filter(pk=run.pk).update(
        status=WorkStatus.RUNNING, progress=0.4, progress_label="both/cosine"
    )
    page = client.get("/evaluation/")
    assert page.status_code == 200
    assert f"Run #{run.pk} is running: 40% (both/cosine)".encode() in page.content
    assert b'http-equiv="refresh"' in page.content
    asked = client.get(f"/evaluation/?run={run.pk}")
    assert asked.status_code == 400 and b"is still in progress (40%)" in asked.content
    export = client.get(f"/evaluation/runs/{run.pk}.csv")
    assert export.status_code == 409 and b"no figures yet" in export.content
    assert client.get("/evaluation/runs/999999.csv").status_code == 404


def test_csv_and_json_exports(client):
    clustered_catalog(per_genre=3)
    run = finished_run()
    export = client.get(f"/evaluation/runs/{run.pk}.csv")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    p5 = [r for r in rows if r["representation"] == "both" and r["figure"] == "precision@5"]
    assert len(p5) == 2 and {r["boost"] for r in p5} == {"1.0", "0.8"}
    data = client.get(f"/evaluation/runs/{run.pk}.json").json()
    assert data["id"] == run.pk and data["catalog_size"] == 9
    assert data["figures"]["results"][0]["representation"] == "both"


# --------------------------------------------------------------------------- the map


def built_map(representation="both"):
    catalog_map = create_map(MapParameters(representation, "cosine"))
    return execute_map(catalog_map)


def test_map_page_without_a_map_says_how_to_make_one(client):
    page = client.get("/map/?representation=visual")
    assert page.status_code == 200
    assert b"No map of <strong>visual</strong> yet" in page.content
    assert b"build_map --representation visual" in page.content


def test_map_page_draws_one_linked_point_per_video(client):
    videos = clustered_catalog(per_genre=3)
    built_map()
    html = client.get("/map/?representation=both").content.decode()
    links = re.findall(r'<a href="/videos/(\d+)/" data-video-id="\d+"><circle', html)
    assert sorted(map(int, links)) == sorted(v.pk for group in videos.values() for v in group)
    assert html.count('<g class="edges"><line') == 1
    assert "Ambient" in html and "9 videos by PCA" in html


def test_map_find_and_highlight_a_query_placed_among_its_neighbours(client):
    videos = clustered_catalog(per_genre=3)
    built_map()
    found = client.get("/map/?find=metal 1").content.decode()
    assert 'id="found"' in found and found.count('class="highlight"') == 1
    none = client.get("/map/?find=nothing like it")
    assert "No video on this map matches" in none.content.decode()
    target = videos["Metal"][0]
    query = add_with_metadata(
        raw_features(1)[0], None, 120.0, 0.8, is_query=True, title="my upload"
    )
    refit_and_materialize_all()
    placed = client.get(f"/map/?video={query.pk}").content.decode()
    assert "my upload (placed among its 5 nearest videos)" in placed
    own = client.get(f"/map/?video={target.pk}").content.decode()
    assert f"Ringed: {target.title}." in own


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("representation=sound", "representation: &#x27;sound&#x27; is not one of"),
        ("metric=manhattan", "metric: &#x27;manhattan&#x27; is not one of"),
        ("video=abc", "video: there is no video &#x27;abc&#x27;"),
        ("video=999999", "video: there is no video &#x27;999999&#x27;"),
        ("find=" + "x" * 101, "find: at most 100 characters"),
    ],
)
def test_map_bad_parameters_are_400s(client, query, message):
    clustered_catalog(per_genre=2, codes=False)
    built_map()
    page = client.get(f"/map/?{query}")
    assert page.status_code == 400 and message in page.content.decode()


def test_a_video_without_the_representation_is_said_to_have_no_place(client):
    clustered_catalog(per_genre=2)
    built_map("code")
    silent = add_with_metadata(raw_features(1)[0], None, None, None, title="no code")
    page = client.get(f"/map/?representation=code&video={silent.pk}")
    assert page.status_code == 400 and b"has no &#x27;code&#x27; vector" in page.content
    assert Video.objects.filter(pk=silent.pk).exists()


def test_results_page_links_to_the_query_on_the_map(client):
    videos = clustered_catalog(per_genre=2, codes=False)
    video = videos["Metal"][0]
    html = client.get(f"/videos/{video.pk}/results/?representation=both").content.decode()
    assert f'href="/map/?representation=both&amp;video={video.pk}"' in html
