# Sourced by the MPI test scripts: the Open MPI settings every test job runs under.
# Open MPI needs oversubscription on 2 cores and permission to run as root (CI runs as root).
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# One thread per rank (the machine is shared) and no busy-polling while a rank waits.
export OMP_NUM_THREADS=1 OMPI_MCA_mpi_yield_when_idle=1
# Containers without ptrace rights (Docker's default) refuse Open MPI's one-copy transfers
# between local ranks (CMA: "Read -1, expected ..., errno = 1"); plain copies work anywhere.
export OMPI_MCA_btl_vader_single_copy_mechanism="${OMPI_MCA_btl_vader_single_copy_mechanism:-none}"
