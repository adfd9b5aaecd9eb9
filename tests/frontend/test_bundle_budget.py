"""The first load of the dashboard transfers under 300 KB of gzip-compressed JavaScript.

The first load is what ``index.html`` names (its entry script and the modules it preloads) and
every module those import statically; pages loaded on demand (``import()``) are not part of it.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

from tests.frontend.support import DIST, require_built_dashboard

BUDGET_BYTES = 300 * 1024
_HTML_JS = re.compile(
    r'<(?:script[^>]*\bsrc|link[^>]*rel="modulepreload"[^>]*\bhref)="/([^"]+\.js)"'
)
# Static imports in minified output: `from"./x.js"` and `import"./x.js"`, never `import("./x.js")`.
_STATIC_IMPORT = re.compile(r'(?:\bfrom|\bimport)\s*"\./([^"]+\.js)"')


def first_load_scripts(dist: Path) -> set[Path]:
    html = (dist / "index.html").read_text()
    pending = [dist / name for name in _HTML_JS.findall(html)]
    seen: set[Path] = set()
    while pending:
        script = pending.pop()
        if script in seen:
            continue
        seen.add(script)
        for name in _STATIC_IMPORT.findall(script.read_text()):
            pending.append(script.parent / name)
    return seen


def gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=6))  # what GZipMiddleware sends


def test_the_static_import_scan_sees_static_and_not_dynamic_imports(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<script type="module" src="/assets/entry.js"></script>')
    (tmp_path / "assets" / "entry.js").write_text(
        'import{a}from"./shared.js";import"./side.js";const p=()=>import("./lazy.js");'
    )
    for name in ("shared.js", "side.js", "lazy.js"):
        (tmp_path / "assets" / name).write_text("export const a=1;")
    names = {p.name for p in first_load_scripts(tmp_path)}
    assert names == {"entry.js", "shared.js", "side.js"}


def test_first_load_javascript_is_under_budget() -> None:
    require_built_dashboard()
    scripts = first_load_scripts(DIST)
    assert any(p.parent.name == "assets" for p in scripts), "index.html names no script"
    sizes = {p.name: gzip_size(p) for p in scripts}
    total = sum(sizes.values())
    print(f"first-load JS, gzip: {total / 1024:.1f} KB of {BUDGET_BYTES / 1024:.0f} KB: {sizes}")
    assert total < BUDGET_BYTES, f"first load ships {total / 1024:.1f} KB gzip of JS: {sizes}"
