#!/bin/sh
# The MPI tests (label mpi; docs/distributed.md). Each starts mpi_train under
# mpirun on this machine: Open MPI needs --oversubscribe on 2 cores and
# --allow-run-as-root in CI, which runs as root.
#   run.sh MPIRUN MPI_TRAIN WORK equivalence|features|short-batch|resume|continued|overlap|killed|mismatch|layer-error
# equivalence: 2 ranks with global batch 16 match 1 rank with batch 16 (SGD,
#   momentum 0.9, lr 0.001; dropout, synchronised batch norm and augmentation
#   on): after 2 steps the step losses and every weight within TIGHT (only the
#   order of float sums differs: any wrong gradient, statistic, dropout mask
#   or augmented sample would show), after a 6-step epoch within LOOSE. The
#   second bound is looser because float-level differences eventually flip a
#   ReLU or max-pool decision (a value within rounding of 0 or of its
#   neighbour), which changes that element's gradient outright; the runs then
#   drift apart slowly, as single-process runs with different thread counts
#   can (docs/distributed.md, "Equivalence").
# features: the same with mixup and cutmix (partners across the whole global
#   batch) and adversarial training (PGD on the first 3/4 of the global
#   batch, random start per global position) on: 2 ranks match 1 rank after
#   1 step within TIGHT (a wrong partner, attacked sample or random start
#   changes the first step's loss by far more) and after 4 within PGD_DRIFT.
#   Later steps drift apart faster than without them: PGD moves a pixel by
#   sign(gradient), so once the weights differ by rounding, a gradient within
#   rounding of 0 becomes a full step the other way (measured after 4 steps
#   here: loss 2.4e-6; after 7: loss 0.06, weight 0.009; in test_distributed
#   built with clang, 6.5e-3 after 2 steps).
# short-batch: 98 samples, so the epoch's last global batch (2 samples) is
#   smaller than a job of 3 ranks: every rank computes it whole and process
#   0's sums count (the others add zeros). Rank 1 runs 2 threads, the others
#   1; the 3 replicas must still be bit-identical, and match 1 rank after the
#   7-step epoch within LOOSE.
# resume: 2 ranks stopped after epoch 1 and resumed (a new mpirun) give
#   bit-identical weights and step losses to 2 ranks that never stopped; so
#   do 2 ranks cancelled inside epoch 1 by rank 1's progress callback alone
#   (every rank returns DCNN_ERR_CANCELLED, no abort, exit status 3 after
#   rank 0 saved a checkpoint) and resumed from that mid-epoch checkpoint.
# continued: with Adam and a reduce-on-plateau schedule, a second fit in the
#   same job and a run stopped after epoch 1 and resumed are accepted by the
#   replicas' fingerprint (their optimizer steps, moments and schedule state
#   agree) and give bit-identical weights and step losses to one 2-epoch fit.
#   The mismatch test shows the fingerprint refuses; this one that it does not
#   refuse what it must accept.
# Every run also checks that the job had -np ranks (size.RANK) and that rank
#   1's replica is bit-identical to rank 0's (model.RANK.dcnn).
# overlap: 2 ranks whose gradient buckets are started during the backward
#   pass (dcnn_mpi_world_overlapped: MPI_Iallreduce, MPI_TRAIN_OVERLAP) and 2
#   ranks that sum them with blocking MPI_Allreduce (the default) give bit-identical
#   step losses and weights after a whole epoch (the same sums of the same
#   numbers: a bucket started before its gradients were complete, or written
#   while in flight, would differ).
# mismatch: rank 1's replica starts from other weights: both ranks' fits
#   refuse the job before any step, naming the weights, and exit (status 4)
#   instead of training apart or pairing unlike gradient sums.
# layer-error: a user layer's backward pass fails on rank 1 alone (its own
#   error, not one the ranks decided together): the job ends through the
#   communicator's abort with rank 1's message, instead of rank 1 returning
#   while rank 0 waits in the gradient all-reduce for ever.
# killed: SIGKILL of rank 1 during training ends the job (mpirun exits
#   non-zero with a message) within TIMEOUT seconds, and the last checkpoint
#   still loads.
set -u
mpirun="$1"; prog="$2"; work="$3"; what="$4"
TIGHT=1e-5 # absolute, on mean losses around 3 and weights up to ~1 (measured: 1e-6 and 2.4e-7)
LOOSE=5e-3 # likewise after 6 steps (measured: 1.0e-3 and 3.8e-4)
PGD_DRIFT=0.1 # with PGD on, after 4 steps: a bound on float drift, not a match
TIMEOUT=120
. "$(dirname "$0")/env.sh"
launch() { np="$1"; shift; timeout "$TIMEOUT" "$mpirun" -np "$np" --oversubscribe --allow-run-as-root "$prog" "$@"; }
rm -rf "$work"; mkdir -p "$work"
# check_job DIR NP: every rank saw NP processes, and the replicas are identical.
check_job() {
  for r in $(seq 0 $(($2 - 1))); do
    [ "$(cat "$1/size.$r" 2>/dev/null)" = "$2" ] || { echo "FAIL: rank $r of $1 did not see $2 processes"; exit 1; }
    [ -f "$1/model.$r.dcnn" ] || { echo "FAIL: $1/model.$r.dcnn is missing"; exit 1; }
    cmp -s "$1/model.0.dcnn" "$1/model.$r.dcnn" || { echo "FAIL: rank $r's replica differs from rank 0's ($1)"; exit 1; }
  done
}
# match_one_rank FIRST LONG LONG_TOLERANCE LABEL: 1 and 2 ranks train FIRST
# steps, then LONG steps, from scratch; after FIRST steps 2 ranks must match 1
# within TIGHT, after LONG within LONG_TOLERANCE.
match_one_rank() {
  first="$1" long="$2" long_tolerance="$3" label="$4"
  for steps in "$first" "$long"; do
    for np in 1 2; do
      mkdir -p "$work/s$steps-np$np/ckpt"
      MPI_TRAIN_MAX_STEPS=$steps launch "$np" train "$work/s$steps-np$np" 1 ||
        { echo "FAIL: mpirun -np $np train ($steps steps$label)"; exit 1; }
      check_job "$work/s$steps-np$np" "$np"
    done
    tolerance=$TIGHT; [ "$steps" = "$first" ] || tolerance=$long_tolerance
    "$prog" compare "$work/s$steps-np1" "$work/s$steps-np2" "$tolerance" ||
      { echo "FAIL: 2 ranks differ from 1 rank after $steps steps$label"; exit 1; }
  done
}
case "$what" in
  equivalence)
    match_one_rank 2 6 "$LOOSE" ""
    echo "ok: 2 ranks x batch 16/2 == 1 rank x batch 16 (2 steps within $TIGHT, 6 within $LOOSE)" ;;
  features)
    export MPI_TRAIN_MIXUP=0.4 MPI_TRAIN_CUTMIX=1 MPI_TRAIN_ADVERSARIAL=1
    match_one_rank 1 4 "$PGD_DRIFT" " (mixup, cutmix, adversarial)"
    echo "ok: with mixup, cutmix and adversarial training, 2 ranks == 1 rank (1 step within $TIGHT, 4 within $PGD_DRIFT)" ;;
  short-batch)
    export MPI_TRAIN_COUNT=98 MPI_TRAIN_THREADS_RANK1=2
    for np in 1 3; do
      mkdir -p "$work/np$np/ckpt"
      launch "$np" train "$work/np$np" 1 || { echo "FAIL: mpirun -np $np train (98 samples)"; exit 1; }
      check_job "$work/np$np" "$np"
    done
    [ "$(wc -l < "$work/np3/steps.txt")" = 7 ] || { echo "FAIL: the 3-rank epoch did not take 7 steps"; exit 1; }
    "$prog" compare "$work/np1" "$work/np3" "$LOOSE" || { echo "FAIL: 3 ranks differ from 1 rank"; exit 1; }
    echo "ok: a last batch smaller than the job: 3 identical replicas (rank 1 with 2 threads) == 1 rank within $LOOSE" ;;
  resume)
    mkdir -p "$work/straight/ckpt" "$work/resumed/ckpt"
    launch 2 train "$work/straight" 2 || { echo "FAIL: uninterrupted run"; exit 1; }
    launch 2 train "$work/resumed" 2 1 || { echo "FAIL: run stopped after epoch 1"; exit 1; }
    launch 2 resume "$work/resumed" 2 || { echo "FAIL: resumed run"; exit 1; }
    "$prog" compare "$work/straight" "$work/resumed" 0 || { echo "FAIL: resumed run is not bit-identical"; exit 1; }
    check_job "$work/straight" 2
    check_job "$work/resumed" 2
    # cancelled inside epoch 1 (after step 3 of 6) by rank 1 only, then resumed
    mkdir -p "$work/cancelled/ckpt"
    MPI_TRAIN_CANCEL_AT=3 launch 2 train "$work/cancelled" 2; rc=$?
    [ "$rc" = 3 ] || { echo "FAIL: the cancelled run ended with status $rc, not 3 (cancelled on every rank)"; exit 1; }
    check_job "$work/cancelled" 2
    [ "$(wc -l < "$work/cancelled/steps.txt")" = 3 ] || { echo "FAIL: the cancelled run did not stop after step 3"; exit 1; }
    launch 2 resume "$work/cancelled" 2 || { echo "FAIL: run resumed inside epoch 1"; exit 1; }
    "$prog" compare "$work/straight" "$work/cancelled" 0 ||
      { echo "FAIL: the run resumed inside an epoch is not bit-identical"; exit 1; }
    check_job "$work/cancelled" 2
    echo "ok: checkpoint/resume under mpirun (after an epoch, and inside one after a one-rank cancel) is bit-identical" ;;
  continued)
    export MPI_TRAIN_OPTIMIZER=adam MPI_TRAIN_PLATEAU=1
    for run in straight twice resumed; do mkdir -p "$work/$run/ckpt"; done
    launch 2 train "$work/straight" 2 || { echo "FAIL: 2-epoch fit with Adam and a plateau schedule"; exit 1; }
    MPI_TRAIN_SECOND_FIT=1 launch 2 train "$work/twice" 1 || { echo "FAIL: a second fit in the same job was refused"; exit 1; }
    launch 2 train "$work/resumed" 2 1 || { echo "FAIL: run stopped after epoch 1"; exit 1; }
    launch 2 resume "$work/resumed" 2 || { echo "FAIL: the resumed run was refused"; exit 1; }
    for run in straight twice resumed; do check_job "$work/$run" 2; done
    [ "$(wc -l < "$work/twice/steps.txt")" = 12 ] || { echo "FAIL: the two fits did not take 12 steps"; exit 1; }
    for run in twice resumed; do
      "$prog" compare "$work/straight" "$work/$run" 0 || { echo "FAIL: $run is not bit-identical to one 2-epoch fit"; exit 1; }
    done
    echo "ok: with Adam and a plateau schedule, a second fit and a resumed run are accepted and equal one fit, bit for bit" ;;
  overlap)
    for how in started blocking; do
      mkdir -p "$work/$how/ckpt"
      if [ "$how" = started ]; then export MPI_TRAIN_OVERLAP=1; else unset MPI_TRAIN_OVERLAP; fi
      launch 2 train "$work/$how" 1 || { echo "FAIL: mpirun -np 2 train ($how buckets)"; exit 1; }
      check_job "$work/$how" 2
    done
    "$prog" compare "$work/started" "$work/blocking" 0 ||
      { echo "FAIL: buckets started during the backward pass differ from blocking sums"; exit 1; }
    echo "ok: gradient buckets started during the backward pass == blocking all-reduces, bit for bit (2 ranks, 1 epoch)" ;;
  killed)
    mkdir -p "$work/ckpt"
    timeout "$TIMEOUT" "$mpirun" -np 2 --oversubscribe --allow-run-as-root "$prog" forever "$work" >"$work/out.log" 2>&1 &
    job=$!
    # wait for a checkpoint and both ranks' pids
    for _ in $(seq 1 600); do
      [ -f "$work/ckpt/last.dcnn" ] && [ -f "$work/pid.1" ] && break
      sleep 0.2
    done
    [ -f "$work/ckpt/last.dcnn" ] && [ -f "$work/pid.1" ] || { echo "FAIL: no checkpoint or pid"; kill "$job"; exit 1; }
    sleep 1
    kill -9 "$(cat "$work/pid.1")"
    start=$(date +%s)
    wait "$job"; rc=$?
    took=$(( $(date +%s) - start ))
    cat "$work/out.log"
    [ "$rc" -ne 124 ] || { echo "FAIL: the job hung (killed by timeout after ${TIMEOUT}s)"; exit 1; }
    [ "$rc" -ne 0 ] || { echo "FAIL: the job ended with status 0 after a rank was killed"; exit 1; }
    grep -qi "signal\|killed\|abort" "$work/out.log" || { echo "FAIL: no message names the dead rank"; exit 1; }
    "$prog" check "$work/ckpt/last.dcnn" || { echo "FAIL: the last checkpoint does not load"; exit 1; }
    echo "ok: a killed rank ended the job in ${took}s (status $rc) and the checkpoint is intact" ;;
  mismatch)
    mkdir -p "$work/ckpt"
    MPI_TRAIN_RANK1_SEED=99 launch 2 train "$work" 1 >"$work/out.log" 2>&1; rc=$?
    cat "$work/out.log"
    [ "$rc" -ne 124 ] || { echo "FAIL: unlike replicas hung the job (killed by timeout after ${TIMEOUT}s)"; exit 1; }
    [ "$rc" -eq 4 ] || { echo "FAIL: unlike replicas: status $rc, expected 4 (refused on every rank)"; exit 1; }
    [ "$(grep -c "differ in their models' weights" "$work/out.log")" -eq 2 ] ||
      { echo "FAIL: not both ranks named the unlike weights"; exit 1; }
    [ ! -f "$work/steps.txt" ] || [ ! -s "$work/steps.txt" ] || { echo "FAIL: unlike replicas trained"; exit 1; }
    # the same weights, but rank 1's optimizer has a step count and momentum rank 0's lacks (it was not compared)
    rm -rf "$work/ckpt" "$work/steps.txt" && mkdir -p "$work/ckpt"
    MPI_TRAIN_RANK1_STEP=1 launch 2 train "$work" 1 >"$work/out.log" 2>&1; rc=$?
    cat "$work/out.log"
    [ "$rc" -eq 4 ] && [ "$(grep -c "differ in the training options, optimizer (settings, step count, moments)" \
      "$work/out.log")" -eq 2 ] || { echo "FAIL: unlike optimizer states: status $rc, expected 4 naming them"; exit 1; }
    echo "ok: replicas with unlike weights or optimizer states are refused by both ranks before any step (status 4, no hang)" ;;
  layer-error)
    launch 2 layer-error >"$work/out.log" 2>&1; rc=$?
    cat "$work/out.log"
    [ "$rc" -ne 124 ] || { echo "FAIL: one rank's layer error hung the job (killed by timeout after ${TIMEOUT}s)"; exit 1; }
    [ "$rc" -ne 0 ] && [ "$rc" -ne 5 ] || { echo "FAIL: the job was not ended (status $rc)"; exit 1; }
    grep -q "process 1 of 2 ends the job: .*non-finite gradient on rank 1 alone" "$work/out.log" ||
      { echo "FAIL: the abort does not name rank 1's error"; exit 1; }
    echo "ok: a layer's error on one rank ends the job through the abort (status $rc, no hang)" ;;
  *) echo "unknown test $what"; exit 2 ;;
esac
