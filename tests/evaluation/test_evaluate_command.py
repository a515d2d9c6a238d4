import json
from io import StringIO

import networkx as nx
import pytest
from django.core.management import CommandError, call_command

from tests.evaluation import clustered_catalog

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("evaluate", *args, stdout=out, stderr=StringIO(), verbosity=0)
    return out.getvalue()


def test_prints_the_table_and_writes_json_and_graphs(tmp_path):
    clustered_catalog(per_genre=4, codes=False)
    report_file = tmp_path / "out" / "report.json"
    output = run(
        "--metric", "euclidean", "--k", "3", "--graph", str(tmp_path / "graphs"),
        "--graph-k", "2", "--json", str(report_file), "--per-genre",
    )  # fmt: skip
    rows = {line.split()[0]: line.split() for line in output.splitlines() if line[:5].strip()}
    assert rows["code"][2] == "unavailable"
    assert rows["both"][:2] == ["both", "euclidean"] and rows["both"][-1] == "12"
    assert float(rows["both"][2]) > 0.9  # precision@3; chance is 3/11
    assert rows["both"][3] == "0.273"
    assert "both/euclidean per genre:" in output
    assert "knn-code-euclidean: skipped (no learned codes" in output

    data = json.loads(report_file.read_text())
    assert data["k"] == 3 and [r["representation"] for r in data["results"]] == [
        "code", "music", "audio", "visual", "both"
    ]  # fmt: skip
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
        (["--k", "0"], "--k must be between 1 and 100, got 0"),
        (["--k", "101"], "--k must be between 1 and 100, got 101"),
        (
            ["--representation", "sound"],
            "--representation must be 'all' or one of code, music, audio",
        ),
        (["--metric", "manhattan"], "--metric must be 'all' or one of euclidean, cosine"),
        (["--boost", "0"], "--boost must be in (0, 1] (1 = off), got 0"),
        (["--boost", "1.2"], "--boost must be in (0, 1] (1 = off), got 1.2"),
        (["--graph-k", "0"], "--graph-k must be between 1 and 100"),
        (["--limit", "0"], "--limit must be >= 1"),
    ],
)
def test_bad_arguments(args, message):
    with pytest.raises(CommandError) as error:
        run(*args)
    assert message in str(error.value)


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
