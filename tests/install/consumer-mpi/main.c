/* A program against an installed libdigitcnn_mpi (tests/install/run.sh):
 * builds through find_package(digitcnn COMPONENTS mpi) and through
 * pkg-config digitcnn-mpi, links no MPI library itself (digitcnn/mpi.h does
 * not include mpi.h), and runs as a one-process job: a trainer takes the
 * communicator, and an all-reduce (blocking, and started then waited for)
 * over one process leaves the values. */
#include <stdio.h>

#include <digitcnn.h>
#include <digitcnn/mpi.h>

static int failed(const char *what) {
  fprintf(stderr, "consumer-mpi: %s: %s\n", what, dcnn_last_error());
  return 1;
}

int main(int argc, char **argv) {
  dcnn_communicator comm = DCNN_STRUCT_INIT(dcnn_communicator);
  if (dcnn_mpi_init(&argc, &argv) != DCNN_OK) return failed("dcnn_mpi_init");
  if (dcnn_mpi_world_overlapped(&comm) != DCNN_OK || !comm.allreduce_start || !comm.allreduce_wait)
    return failed("dcnn_mpi_world_overlapped");
  void *request = NULL;
  float started[2] = {0.5f, 4.0f};
  if (comm.allreduce_start(comm.user, started, 2, DCNN_COMM_FLOAT32, &request) != DCNN_OK ||
      comm.allreduce_wait(comm.user, request) != DCNN_OK)
    return failed("started all-reduce");
  if (dcnn_mpi_world(&comm) != DCNN_OK) return failed("dcnn_mpi_world");
  if (comm.allreduce_start) return failed("dcnn_mpi_world has allreduce_start");
  double values[2] = {1.5, -2.0};
  if (comm.allreduce_sum(comm.user, values, 2, DCNN_COMM_FLOAT64) != DCNN_OK) return failed("allreduce");
  const int32_t size = comm.size(comm.user);
  if (values[0] != 1.5 * size || values[1] != -2.0 * size || started[0] != 0.5f * (float)size ||
      started[1] != 4.0f * (float)size) {
    fprintf(stderr, "consumer-mpi: all-reduce gave %g, %g over %d process(es)\n", values[0], values[1], (int)size);
    return 1;
  }
  dcnn_model *model = NULL;
  dcnn_optimizer *sgd = NULL;
  dcnn_trainer *trainer = NULL;
  dcnn_zoo_options options = DCNN_ZOO_OPTIONS_INIT;
  dcnn_status s = dcnn_zoo_lenet5(NULL, &options, &model);
  if (s == DCNN_OK) s = dcnn_optimizer_create_sgd(NULL, 0.01f, 0.0f, DCNN_MOMENTUM_CLASSIC, 0.0f, &sgd);
  if (s == DCNN_OK) s = dcnn_trainer_create(NULL, model, sgd, &trainer);
  if (s == DCNN_OK) s = dcnn_trainer_set_communicator(trainer, &comm);
  const int rc = s == DCNN_OK ? 0 : failed("trainer");
  dcnn_trainer_destroy(trainer);
  dcnn_optimizer_destroy(sgd);
  dcnn_model_destroy(model);
  if (dcnn_mpi_finalize() != DCNN_OK) return failed("dcnn_mpi_finalize");
  if (rc == 0) printf("consumer-mpi: %d process(es), libdigitcnn %s\n", (int)size, dcnn_version_string());
  return rc;
}
