"""Write the config reference generated from the schemas: ``python -m jobmatch.app.schema [--out docs/config.md]``;
``--check`` only compares and exits 1 when the file is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jobmatch.app.schema.reference import render


def main(argv: list[str] | None = None) -> int:
    """Write (or, with ``--check``, compare) the reference; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m jobmatch.app.schema", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/config.md"), help="where to write it")
    parser.add_argument("--check", action="store_true", help="exit 1 when --out differs from the schemas")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out}: stale; run python -m jobmatch.app.schema", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
