import csv
import json
from io import StringIO

import networkx as nx
import pytest
from django.core.management import CommandError, call_command

from evaluation.models import EvaluationRun
from tests.evaluation import clustered_catalog

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("evaluate", *args, stdout=out, stderr=StringIO(), verbosity=0)
    return out.getvalue()


def test_prints_the_table_stores_the_run_and_writes_json_csv_and_graphs(tmp_path):
    clustered_catalog(per_genre=4, codes=False)
    report_file = tmp_path / "out" / "report.json"
    csv_file = tmp_path / "out" / "report.csv"
    output = run(
        "--metric", "euclidean", "--boost", "0.8", "--graph", str(tmp_path / "graphs"),
        "--graph-k", "2", "--json", str(report_file), "--csv", str(csv_file), "--per-genre",
    )  # fmt: skip
    rows = [line.split() for line in output.splitlines() if line[:5].strip()]
    both = [row for row in rows if row[:2] == ["both", "euclidean"]]
    assert [row[2] for row in both] == ["off", "0.8"]
    assert float(both[0][3]) > 0.9 and both[0][4] == "0.600"  # P@1; P@5 at most 3/5
    assert both[0][7] == "0.273" and both[0][-1] == "12"
    assert next(row for row in rows if row[0] == "code")[3] == "unavailable"
    assert "both/euclidean (boost off) per genre:" in output
    assert "knn-code-euclidean: skipped (no learned codes" in output

    run_row = EvaluationRun.objects.get()
    assert run_row.status == "done" and run_row.catalog_size == 12
    assert f"stored as evaluation run #{run_row.pk}" in output
    assert run_row.parameters["boost"] == 0.8 and run_row.settings["genre_boost"] == 0.8
    data = json.loads(report_file.read_text())
    assert data == json.loads(json.dumps(run_row.figures))
    assert [r["representation"] for r in data["results"][::2]] == [
        "code", "music", "audio", "visual", "both"
    ]  # fmt: skip
    table = list(csv.DictReader(csv_file.open()))
    assert {r["figure"] for r in table if r["available"] == "True"} >= {
        "precision@1", "precision@5", "precision@10", "map@10", "agreement_tempo",
    }  # fmt: skip
    for representation in ("audio", "visual", "both"):
        base = tmp_path / "graphs" / f"knn-{representation}-euclidean"
        graph = nx.read_graphml(f"{base}.graphml")
        assert graph.number_of_nodes() == 12 and graph.number_of_edges() <= 12 * 2
        assert base.with_suffix(".png").stat().st_size > 0
        assert base.with_suffix(".json").exists()
        assert f"knn-{representation}-euclidean: 12 nodes" in output
    assert not list((tmp_path / "graphs").glob("knn-code-*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agreement-k", "0"], "--agreement-k: must be an integer from 1 to 10, got 0"),
        (
            ["--representation", "sound"],
            "--representation must be 'all' or one of code, music, audio",
        ),
        (["--metric", "manhattan"], "--metric must be 'all' or one of euclidean, cosine"),
        (["--boost", "0"], "--boost: must be in (0, 1] (1 = off), got 0"),
        (["--boost", "1.2"], "--boost: must be in (0, 1] (1 = off), got 1.2"),
        (["--graph-k", "0"], "--graph-k must be between 1 and 10"),
        (["--limit", "0"], "--limit: must be an integer >= 1"),
    ],
)
def test_bad_arguments(args, message):
    with pytest.raises(CommandError) as error:
        run(*args)
    assert message in str(error.value)
    assert not EvaluationRun.objects.exists()


def test_unwritable_graph_dir_and_json_file_fail_before_searching(tmp_path):
    clustered_catalog(per_genre=2, codes=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(CommandError, match="--graph .*a-file/graphs: cannot create the directory"):
        run("--graph", str(blocker / "graphs"))
    with pytest.raises(CommandError, match="--json .*: cannot create the directory"):
        run("--json", str(blocker / "sub" / "report.json"))
    with pytest.raises(CommandError, match="is a directory, give a file name"):
        run("--json", str(tmp_path))


def test_empty_catalog():
    with pytest.raises(CommandError, match="The catalog has no ready videos to evaluate"):
        run()
    assert not EvaluationRun.objects.exists()
