"""Imports between apps point one way: catalog <- features <- ml <- search; pipeline and
evaluation on top (docs/architecture.md).

The arrow direction is an import-linter contract (`.importlinter`, run here as `lint-imports`):
domain modules import only the apps below them, the web layer (pages, API, admin, commands,
migrations) may import anything. Imports inside functions count as much as those at the top.
Admin modules never import another app's admin.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("catalog", "features", "ml", "search", "pipeline", "evaluation")


def lint_imports(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_domain_modules_import_only_the_apps_below():
    result = lint_imports(ROOT / ".importlinter")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_the_contract_fails_on_an_upward_import(tmp_path):
    """The check can fail: the same contract with catalog above features (features imports
    catalog, which is then an import against the arrows)."""
    config = (ROOT / ".importlinter").read_text()
    swapped = config.replace("    features\n    catalog\n", "    catalog\n    features\n")
    assert swapped != config
    (tmp_path / "contract.ini").write_text(swapped)
    result = lint_imports(tmp_path / "contract.ini")
    assert result.returncode == 1, result.stdout
    assert "features." in result.stdout and "catalog" in result.stdout


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
