"""digitcnn-table1 on a terminal that hangs up (its window closed): the run
saves a checkpoint and exits with status 3, as docs/cli.md says, although
its progress bar's writes to the dead terminal fail (the exit check once
turned them into status 1), and the same command then continues.

Usage: table1_hangup.py TABLE1 DATA WORK. Exits 77 (skipped) without MNIST-M."""
import glob
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time

table1, data, work = sys.argv[1:4]
if not os.path.isfile(os.path.join(data, "mnist_m_test_labels.txt")):
    print(f"MNIST-M not found in {data} (run scripts/get-data.sh): skipped")
    sys.exit(77)
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
out = os.path.join(work, "out")


def command(progress):
    return [table1, "--models", "paper", "--train-images", "1200", "--test-images", "200", "--epochs", "3",
            "--threads", "2", "--seed", "5", "--checkpoint-steps", "3", "--progress", progress, "--data", data,
            "--out", out]


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


pid, terminal = pty.fork()
if pid == 0:  # the run, on the terminal; SIGHUP as an interactive shell leaves it, whatever ours is
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    os.execv(table1, command("bar"))
start = time.time()
checkpoint = os.path.join(out, "paper", "last.dcnn")
while not os.path.exists(checkpoint):  # the run must have started training
    if time.time() - start > 120:
        os.kill(pid, signal.SIGKILL)
        fail("no checkpoint within 120 s")
    ready, _, _ = select.select([terminal], [], [], 0.05)
    if ready:  # drained, so that the run never blocks on a full terminal
        try:
            os.read(terminal, 65536)
        except OSError:
            break
time.sleep(0.5)  # the bar is writing
os.close(terminal)  # the window closes: SIGHUP, and writes to the terminal fail
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
if code != 3:
    fail(f"status {code} after the terminal hung up, expected 3 (a checkpoint saved)")
if not os.path.exists(checkpoint):
    fail("status 3 but no checkpoint")

with open(os.path.join(work, "rerun.log"), "wb") as log:  # the same command (lines: no terminal now) continues
    rerun = subprocess.run(command("lines"), stdout=log, stderr=subprocess.STDOUT)
text = open(os.path.join(work, "rerun.log"), errors="replace").read()
if rerun.returncode != 0:
    fail(f"the rerun failed with status {rerun.returncode}: {text[-500:]}")
if "Resuming Paper CNN" not in text:
    fail(f"the rerun did not resume the checkpoint: {text[:500]}")
print(f"hung up {time.time() - start:.1f} s in: status 3, checkpoint saved, the same command resumed and finished")
