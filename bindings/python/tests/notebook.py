"""Runs an example notebook with ``jupyter nbconvert --to notebook --execute`` and checks its
outputs (CTest test python_notebook; exit 77, a skip, when Jupyter or ipykernel is missing).

    python3 notebook.py ../examples/quickstart.ipynb
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77


def text_of(output) -> str:
    if output.get("output_type") == "stream":
        return "".join(output["text"])
    data = output.get("data", {})
    return "".join(data.get("text/plain", ""))


def main() -> int:
    notebook = Path(sys.argv[1]).resolve()
    jupyter = shutil.which("jupyter")
    if jupyter is None or subprocess.run([jupyter, "nbconvert", "--version"], capture_output=True).returncode:
        print("SKIP: jupyter nbconvert is not installed (Debian: apt-get install jupyter-nbconvert python3-ipykernel)")
        return SKIP
    if subprocess.run([sys.executable, "-c", "import ipykernel"], capture_output=True).returncode:
        print("SKIP: ipykernel is not installed (Debian: apt-get install python3-ipykernel)")
        return SKIP
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1", JUPYTER_PLATFORM_DIRS="1",
                   HOME=tmp)  # a private Jupyter runtime directory; nothing written to the real home
        run = subprocess.run([jupyter, "nbconvert", "--to", "notebook", "--execute", str(notebook), "--output-dir",
                              tmp, "--ExecutePreprocessor.timeout=120"], cwd=tmp, env=env, capture_output=True,
                             text=True)
        if run.returncode:
            print(run.stdout, run.stderr)
            print(f"FAIL: nbconvert exited with {run.returncode}")
            return 1
        executed = json.loads((Path(tmp) / notebook.name).read_text())
    cells = [c for c in executed["cells"] if c["cell_type"] == "code"]
    problems = []
    for index, cell in enumerate(cells):
        if cell.get("execution_count") is None:
            problems.append(f"code cell {index} did not run")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                problems.append(f"code cell {index}: {output['ename']}: {output['evalue']}")
    everything = "\n".join(text_of(o) for c in cells for o in c.get("outputs", []))
    # the fit cell's bar is an IPython display (updated in place), not stderr lines
    fit_cell = next((c for c in cells if ".fit(" in "".join(c["source"])), None)
    if fit_cell is None or not any(o.get("output_type") == "display_data" for o in fit_cell["outputs"]):
        problems.append("the fit cell shows no live progress display")
    for expected in ("Epoch 3/3", "<History: 3 epochs", "weighted avg", "FileNotFoundError", "did you mean"):
        if expected not in everything:
            problems.append(f"no {expected!r} in the outputs")
    for problem in problems:
        print("FAIL:", problem)
    if not problems:
        print(f"ok: {notebook.name} ran, {len(cells)} code cells")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
