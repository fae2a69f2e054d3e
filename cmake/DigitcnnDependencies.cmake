# Third-party dependencies, found the CMake way. All come from Debian packages:
#   libopenblas-dev zlib1g-dev libpng-dev libcmocka-dev (tests) doxygen (docs, optional)
find_package(PkgConfig REQUIRED)

# OpenBLAS: its pkg-config file first, FindBLAS as the fallback. The library
# drives OpenBLAS single-threaded (openblas_set_num_threads), so it must be OpenBLAS.
pkg_check_modules(OPENBLAS IMPORTED_TARGET openblas)
if(OPENBLAS_FOUND)
  set(DCNN_BLAS_TARGET PkgConfig::OPENBLAS)
  set(DCNN_BLAS_DESCRIPTION "OpenBLAS ${OPENBLAS_VERSION} via pkg-config (${OPENBLAS_LINK_LIBRARIES})")
  set(DCNN_PC_REQUIRES_PRIVATE "openblas")
else()
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS REQUIRED)
  add_library(dcnn_blas INTERFACE)
  target_link_libraries(dcnn_blas INTERFACE ${BLAS_LIBRARIES})
  set(DCNN_BLAS_TARGET dcnn_blas)
  set(DCNN_BLAS_DESCRIPTION "OpenBLAS via FindBLAS (${BLAS_LIBRARIES})")
  set(DCNN_PC_REQUIRES_PRIVATE "")
endif()
message(STATUS "libdigitcnn: BLAS = ${DCNN_BLAS_DESCRIPTION}")

find_package(ZLIB REQUIRED)
find_package(PNG REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS C)
find_package(Threads REQUIRED)
string(APPEND DCNN_PC_REQUIRES_PRIVATE " zlib libpng")

# libdigitcnn_mpi (lib/mpi, docs/distributed.md): on when MPI for C is found.
# The core library never links MPI.
find_package(MPI QUIET COMPONENTS C)
option(DCNN_MPI "Build libdigitcnn_mpi, the MPI communicator for data-parallel training" ${MPI_C_FOUND})
if(DCNN_MPI AND NOT MPI_C_FOUND)
  message(FATAL_ERROR "DCNN_MPI needs MPI for C (Debian: apt-get install libopenmpi-dev openmpi-bin), "
                      "or configure with -DDCNN_MPI=OFF")
endif()
if(DCNN_MPI)
  find_program(DCNN_MPIEXEC NAMES mpirun mpiexec HINTS ${MPIEXEC_EXECUTABLE})
endif()
