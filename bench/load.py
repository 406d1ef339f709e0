"""``ceasefire load`` against ``ceasefire import`` of the same events: the ratio of their times.

Both commands check a whole file before writing it and write it through the same path
(``app.services.ingest``); a load only parses a simpler format and decides each event's
recording time itself. So a load should cost about what an import of the same events costs
(issue 19's target: within 1.5x). Before issue 19 it did not: each line took a set difference
over every event id seen so far (quadratic), 4 min 2 s for 50,000 events against 16 s.

For each database (SQLite, PostgreSQL) and each round, in freshly created, migrated databases:

- an NDJSON file of ``--events`` new events is written: ``--conflicts`` conflicts, each an
  agreement then allegations, with one line in 100 retracting an earlier allegation of its
  conflict (so the check's lookups of named events run too);
- **load**: ``ceasefire load FILE`` into an empty database A, timed as a command (its start-up
  included, as an operator sees it);
- the log of A is exported (``ceasefire export``, not timed): the same events, as an import
  reads them;
- **import**: ``ceasefire import EXPORT`` into an empty database B, timed the same way.

The ratio load/import is computed within each round (the machine is shared: absolute times
drift, a ratio of neighbours much less).

    .venv/bin/python bench/load.py                                  # 50,000 events, both databases
    .venv/bin/python bench/load.py --events 2000 --databases sqlite --rounds 1   # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import SOURCE, Table, alleged_json, fresh_database, signed

CEASEFIRE = str(Path(sys.executable).with_name("ceasefire"))


def events_file(path: Path, count: int, conflicts: int) -> None:
    """``count`` events over ``conflicts`` conflicts, one JSON object a line, with their ids."""
    per_conflict = max(count // conflicts, 2)
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for c in range(conflicts):
            conflict = f"bench-load-{c}"
            agreement = json.loads(signed(conflict).model_dump_json(exclude_none=True))
            out.write(json.dumps(agreement) + "\n")
            written += 1
            allegations: list[dict[str, Any]] = []
            for i in range(per_conflict - 1):
                if written >= count:
                    return
                if i % 100 == 99 and allegations:
                    target = allegations.pop(0)
                    line: dict[str, Any] = {
                        "id": str(uuid.uuid4()),
                        "type": "allegation.retracted",
                        "conflict": conflict,
                        "occurred_at": _later(target["occurred_at"]),
                        "source": SOURCE,
                        "data": {
                            "allegation_id": target["id"],
                            "retracted_by": target["data"]["alleged_by"],
                            "reason": "withdrawn",
                        },
                    }
                else:
                    line = {"id": str(uuid.uuid4()), **alleged_json(conflict, i)}
                    allegations.append(line)
                out.write(json.dumps(line) + "\n")
                written += 1


def _later(instant: str) -> str:
    return (datetime.fromisoformat(instant) + timedelta(hours=1)).astimezone(UTC).isoformat()


def command(url: str, *args: str, stdout: Any = subprocess.DEVNULL) -> float:
    """Run ``ceasefire ARGS`` against ``url``; its wall-clock seconds. Fails loudly."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CEASEFIRE_")}
    env["CEASEFIRE_DATABASE_URL"] = url
    started = time.perf_counter()
    done = subprocess.run(
        [CEASEFIRE, *args], env=env, stdout=stdout, stderr=subprocess.PIPE, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"ceasefire {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--conflicts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--databases", default="sqlite,postgresql")
    options = parser.parse_args()
    for kind in options.databases.split(","):
        table = Table(f"load vs import, {options.events:,} events, {kind}", options.rounds)
        for r in range(options.rounds):
            with tempfile.TemporaryDirectory(prefix="ceasefire-bench-load-") as tmp:
                source, export = Path(tmp) / "events.ndjson", Path(tmp) / "export.ndjson"
                events_file(source, options.events, options.conflicts)
                with fresh_database(kind) as loaded:
                    table.add("load", r, 1000 * command(loaded, "load", str(source)), "ms")
                    with export.open("w") as out:
                        command(loaded, "export", stdout=out)
                with fresh_database(kind) as imported:
                    table.add("import", r, 1000 * command(imported, "import", str(export)), "ms")
        table.ratio("load / import", "load", "import")
        table.notes.append("target: load / import <= 1.5 (issue 19)")
        print(table.render(), flush=True)


if __name__ == "__main__":
    main()
