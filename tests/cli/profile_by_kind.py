#!/usr/bin/python3
"""scripts/profile-by-kind.py on a hand-made profile: sums by kind, a
block counted through its inner layers, bwd-* sub-rows not counted twice,
conv algorithms kept apart, loss and optimizer rows, two files side by side,
and a clear failure on a file without a profile.

    profile_by_kind.py SCRIPT WORKDIR
"""
import os
import subprocess
import sys

PROFILE = """\
libdigitcnn 0.2.0, resnet50 (1 channel -> 10 classes), 2 threads, 10 timed steps
profile of 10 training steps, batch 32 (clock reads included in the step times above):
layer  type             pass         calls    ms/call    GFLOPS  %ceiling    %time  algorithm
0      conv2d           forward         10      1.000      56.3     30.2%     0.6%  im2col_gemm
0      conv2d           backward        10      2.000      55.1     29.6%     0.6%  im2col_gemm
                        bwd-data        10      0.500         -         -     0.0%
                        bwd-weight      10      1.500      55.1     29.6%     0.6%
1      residual         forward         10      3.500     124.8     66.9%     1.7%  gemm_1x1+winograd_4x4
 1.b0  conv2d           forward         10      1.250      94.6     50.7%     0.1%  gemm_1x1
 1.b1  conv2d           forward         10      2.000     267.4    143.4%     0.4%  winograd_4x4
 1.sum add+relu         forward         10      0.250         -         -     0.1%
1      residual         backward        10      7.000     145.1     77.8%     2.9%  gemm_1x1+winograd_4x4
                        bwd-data        10      3.000     136.2     73.0%     1.6%
                        bwd-weight      10      4.000     155.3     83.3%     1.4%
 1.b0  conv2d           backward        10      2.500      80.2     43.0%     0.3%  gemm_1x1
 1.b1  conv2d           backward        10      4.000     280.5    150.5%     0.7%  winograd_4x4
 1.sum add+relu         backward        10      0.500         -         -     0.1%
2      maxpool2d        forward         10      0.750         -         -     0.4%
2      maxpool2d        backward        10      0.250         -         -     0.1%
-      loss             -               10      0.125         -         -     0.0%
-      optimizer        -               10      2.375         -         -     0.0%
total  training         all             10     20.000     108.7     58.3%   100.0%
GEMM ceiling: 187.0 GFLOPS
profile of 10 training steps, batch 128 (a second table, to be ignored):
layer  type             pass         calls    ms/call    GFLOPS  %ceiling    %time  algorithm
0      conv2d           forward         10    999.000      56.3     30.2%     0.6%  im2col_gemm
total  training         all             10    999.000     108.7     58.3%   100.0%
"""

# The baseline's format: no algorithm column, no inner rows.
OLD = """\
profile of 10 training steps, batch 32 (clock reads included in the step times above):
layer  type             pass         calls    ms/call    GFLOPS  %ceiling    %time
0      conv2d           forward         10      4.000      31.6     16.8%     0.9%
0      conv2d           backward        10      6.000      55.0     29.3%     1.1%
total  training         all             10     10.000      73.9     39.3%   100.0%
"""


def run(script, *paths):
    return subprocess.run([sys.executable, script, *paths], capture_output=True, text=True)


def main():
    script, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    new, old, empty = (os.path.join(work, n) for n in ("new.txt", "old.txt", "empty.txt"))
    for path, text in ((new, PROFILE), (old, OLD), (empty, "no table here\n")):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)

    result = run(script, new)
    assert result.returncode == 0, result.stderr
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in result.stdout.splitlines()[2:]}
    want = {
        "conv2d winograd_4x4": ["2.00", "4.00", "30.0%"],
        "conv2d gemm_1x1": ["1.25", "2.50", "18.8%"],
        "conv2d im2col_gemm": ["1.00", "2.00", "15.0%"],
        "optimizer": ["2.38", "0.00", "11.9%"],
        "maxpool2d": ["0.75", "0.25", "5.0%"],
        "add+relu": ["0.25", "0.50", "3.8%"],
        "loss": ["0.12", "0.00", "0.6%"],
        "**step**": ["**20.00**", "", ""],
    }
    assert rows == want, f"got {rows}\nwant {want}"
    assert "residual" not in result.stdout, "a block with inner rows was counted twice"
    assert list(rows)[0] == "conv2d winograd_4x4", "rows are not in order of time"

    result = run(script, old, new)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].count("forward ms") == 2, lines[0]
    conv = next(l for l in lines if l.startswith("| conv2d |"))
    assert [c.strip() for c in conv.split("|")[2:-1]] == ["4.00", "6.00", "100.0%", "", "", ""], conv
    assert "**10.00**" in lines[-1] and "**20.00**" in lines[-1], lines[-1]

    result = run(script, empty)
    assert result.returncode != 0 and "no training profile" in result.stderr, (result.returncode, result.stderr)
    result = run(script)
    assert result.returncode != 0, "no arguments accepted"
    print("profile-by-kind: all checks passed")


if __name__ == "__main__":
    main()
