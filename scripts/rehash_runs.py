"""One-off: rename stored runs after a change of what names a run (``store.run_identity``), without retraining.

Usage: python scripts/rehash_runs.py [--dry-run]. For each run whose JSON config differs from its identity (e.g. it
holds ``verbose``) or whose file name is not the identity's key, rewrite the config and move the JSON and its .npz
to the new name. Refuses to overwrite a different run stored under the new name.
"""

from __future__ import annotations

import os
import sys

from fmnist_utils.runs.store import config_key, load_run, run_files, run_identity, to_json


def main(dry_run: bool = False) -> int:
    moved = 0
    for path in run_files():
        record = load_run(path)
        identity = run_identity(record["config"])
        target = path.with_name(f"{config_key(identity)}.json")
        if identity == record["config"] and target == path:
            continue
        if target.exists() and target != path:
            print(f"{target} exists: not moving {path} over it", file=sys.stderr)
            return 1
        print(f"{path} -> {target.name}")
        moved += 1
        if dry_run:
            continue
        record["config"] = identity
        target.write_text(to_json(record) + "\n")
        if path.with_suffix(".npz").exists():
            os.replace(path.with_suffix(".npz"), target.with_suffix(".npz"))
        if target != path:
            path.unlink()
    print(f"{moved} run(s) {'to move' if dry_run else 'moved'}")
    return 0


if __name__ == "__main__":
    sys.exit(main("--dry-run" in sys.argv[1:]))
