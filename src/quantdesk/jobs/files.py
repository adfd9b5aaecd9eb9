"""Files that jobs write (exports, uploads, per-item results): one place, one naming rule.

Every file of an operation lives at ``<export_dir>/<area>/<operation id><suffix>``, so the
operation's id finds it and ``cleanup_expired`` can delete it with the operation. In scaled-out
mode ``export_dir`` must be storage shared by the API processes and the workers.

Per-item results are JSON lines carrying their item index ``i``. A batch writes its lines before
its transaction commits; a retried run calls ``keep_first`` to drop the lines of batches whose
transaction never committed (index >= resume_from), so each item has exactly one line.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from quantdesk.kit.config import Settings

RESULTS_SUFFIX = ".jsonl"


def export_root(settings: Settings) -> Path:
    return settings.resolved_export_dir


def operation_file(settings: Settings, area: str, operation_id: uuid.UUID, suffix: str) -> Path:
    return export_root(settings) / area / f"{operation_id}{suffix}"


def write_atomically(path: Path, content: bytes) -> None:
    """Readers see the old file or the whole new one, never a half-written one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(content)
    os.replace(partial, path)


def read_results(path: Path) -> Iterator[dict[str, Any]]:
    """The result lines in file order (a torn last line from a crash is skipped)."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(item, dict) and isinstance(item.get("i"), int):
                yield item


def keep_first(path: Path, count: int) -> None:
    """Keep one line for each item index below ``count``; drop the rest (uncommitted batches)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.touch()
        return
    seen: set[int] = set()
    partial = path.with_name(path.name + ".part")
    with partial.open("w", encoding="utf-8") as out:
        for item in read_results(path):
            index = item["i"]
            if index < count and index not in seen:
                seen.add(index)
                out.write(json.dumps(item, separators=(",", ":")) + "\n")
    os.replace(partial, path)


def result_line(index: int, values: dict[str, Any]) -> str:
    return json.dumps({"i": index, **values}, separators=(",", ":"), default=str) + "\n"
