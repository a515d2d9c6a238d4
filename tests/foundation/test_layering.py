"""Imports between apps point one way: catalog <- features <- ml <- search; pipeline and
evaluation on top.

Domain modules (everything except the web layer listed in WEB_LAYER) may import only the apps
below them. Admin modules never import another app's admin. The checks parse the source, so
an import inside a function counts as much as one at the top.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("catalog", "features", "ml", "search", "pipeline", "evaluation")
ALLOWED: dict[str, set[str]] = {
    "catalog": set(),
    "features": {"catalog"},
    "ml": {"catalog", "features"},
    "search": {"catalog", "features", "ml"},
    "pipeline": {"catalog", "features", "ml", "search"},
    # Beside the pipeline, on top of the engine: it reads the catalog and ranks with search.
    "evaluation": {"catalog", "features", "ml", "search"},
}
# The web layer sits on top of everything and may call the pipeline and any app.
WEB_LAYER = ("admin.py", "admin_actions.py", "views.py", "api.py", "urls.py", "forms.py")
WEB_DIRS = ("management", "migrations", "templatetags")


def imported_apps(path: Path) -> set[tuple[str, int]]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {(name.split(".")[0], node.lineno) for name in names}
    return found


def is_web_layer(path: Path) -> bool:
    return path.name in WEB_LAYER or any(part in WEB_DIRS for part in path.parts)


def layering_violations(app: str) -> list[str]:
    offenders = []
    for path in sorted((ROOT / app).rglob("*.py")):
        if is_web_layer(path.relative_to(ROOT)):
            continue
        for other, line in sorted(imported_apps(path)):
            if other in APPS and other != app and other not in ALLOWED[app]:
                offenders.append(f"{path.relative_to(ROOT)}:{line} imports {other}")
    return offenders


@pytest.mark.parametrize("app", APPS)
def test_domain_modules_import_only_the_apps_below(app):
    assert not layering_violations(app), "\n".join(layering_violations(app))


def test_no_admin_module_imports_another_apps_admin():
    offenders = []
    for app in APPS:
        for path in (ROOT / app).glob("admin*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [f"{node.module}.{alias.name}" for alias in node.names]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                for name in names:
                    parts = name.split(".")
                    if parts[0] in APPS and parts[0] != app and "admin" in parts[1:]:
                        offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, "\n".join(offenders)


def test_the_check_finds_an_import_against_the_arrows(tmp_path):
    bad = tmp_path / "catalog_module.py"
    bad.write_text("from search import ranking\n\ndef f():\n    import ml.inference\n")
    assert imported_apps(bad) == {("search", 1), ("ml", 4)}
