"""Writes a notebook from a script with ``# %%`` cell markers (the script is the source).

    python3 make_notebook.py paper.py paper.ipynb          # write
    python3 make_notebook.py --check paper.py paper.ipynb  # exit 1 if the notebook is stale

Only the standard library: the notebook is nbformat 4 JSON without outputs, written the same way
every time so that it can be compared with the script.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List


def cells_of(script: str) -> List[Dict[str, object]]:
    """Splits a script at ``# %%`` lines; ``# %% [markdown]`` cells lose their ``# `` prefixes."""
    cells: List[Dict[str, object]] = []
    kind, lines = None, []

    def flush() -> None:
        while lines and not lines[-1].strip():
            lines.pop()
        if kind is not None and lines:
            source = [line + "\n" for line in lines[:-1]] + [lines[-1]]
            cell: Dict[str, object] = {"cell_type": kind, "metadata": {}, "source": source}
            if kind == "code":
                cell.update(execution_count=None, outputs=[])
            cells.append(cell)

    for line in script.splitlines():
        if line.startswith("# %%"):
            flush()
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        elif kind == "code":
            lines.append(line)
    flush()
    return cells


def notebook_of(script: str) -> str:
    """The notebook's JSON text."""
    notebook = {
        "cells": cells_of(script),
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    for number, cell in enumerate(notebook["cells"]):
        cell["id"] = f"cell-{number:02d}"
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the notebook differs")
    parser.add_argument("script", type=Path)
    parser.add_argument("notebook", type=Path)
    args = parser.parse_args()
    expected = notebook_of(args.script.read_text(encoding="utf-8"))
    if args.check:
        actual = args.notebook.read_text(encoding="utf-8") if args.notebook.exists() else ""
        if actual != expected:
            print(f"{args.notebook} is not {args.script} as a notebook; run: "
                  f"python3 {Path(__file__).name} {args.script} {args.notebook}", file=sys.stderr)
            return 1
        print(f"{args.notebook} matches {args.script}")
        return 0
    args.notebook.write_text(expected, encoding="utf-8")
    print(f"wrote {args.notebook}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
