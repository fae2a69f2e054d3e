/* Running an example under mpirun (docs/distributed.md, README "Training on
 * a cluster"): with libdigitcnn_mpi built (DCNN_MPI) and the program started
 * by an MPI launcher, every process joins the job; otherwise these do
 * nothing and the example runs as one process.
 *
 * Leaving the job, the one rule for every example: a decision every rank
 * shares (example_cluster_any(), example_cluster_share(), or success) ends
 * with example_cluster_finish() on every rank, then a return from main or
 * example_cluster_leave(); a failure this rank alone sees (a refused command
 * line, EXAMPLE_CHECK) exits without finishing, and the launcher ends the
 * job on its non-zero status (a rank that finished would leave the others
 * waiting in their next collective for ever). */
#ifndef DCNN_EXAMPLE_CLUSTER_H
#define DCNN_EXAMPLE_CLUSTER_H

#include <digitcnn.h>

/* Joins the MPI job if there is one; on ranks other than 0 stdout goes to
 * /dev/null (rank 0 prints, errors still reach stderr). Returns the rank. */
int example_cluster_start(int *argc, char ***argv);

/* This process's rank and the job's size (0 and 1 outside a job). */
int example_cluster_rank(void);
int example_cluster_size(void);

/* The job's communicator, NULL outside a job. */
const dcnn_communicator *example_cluster_comm(void);

/* Makes `trainer` one replica of the data-parallel job (nothing outside a job). */
void example_cluster_attach(dcnn_trainer *trainer);

/* Rank 0's `value` on every rank (`value` itself outside a job): decisions
 * made from files (resume or not) must be the same on every rank. */
int example_cluster_share(int value);

/* Whether `flag` is non-zero on any rank (`flag` outside a job). */
int example_cluster_any(int flag);

/* Returns when every rank has called it (at once outside a job). */
void example_cluster_barrier(void);

/* Leaves the job (MPI_Finalize) at the end of main. */
void example_cluster_finish(void);

/* Every rank ends the program with `status`, together: call it only where the decision is shared. */
_Noreturn void example_cluster_leave(int status);

/* `status` as every rank's verdict: a rank whose call failed says why on stderr, and if any did, every rank
 * leaves with status 1 (example_cluster_leave); a file one rank cannot read or write would otherwise end that
 * rank alone, and the launcher abort the job. */
void example_cluster_check(dcnn_status status);

#endif
