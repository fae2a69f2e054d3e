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
  set(DCNN_PC_BLAS_LIBS "")
  set(DCNN_BLAS_VIA_PKG_CONFIG TRUE)
else()
  # The libraries' full paths, linked as they are: a target of this project
  # would have to be exported with the static library, whose private links
  # name it. The package files name the same paths.
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS REQUIRED)
  set(DCNN_BLAS_TARGET ${BLAS_LIBRARIES})
  set(DCNN_BLAS_DESCRIPTION "OpenBLAS via FindBLAS (${BLAS_LIBRARIES})")
  set(DCNN_PC_REQUIRES_PRIVATE "")
  string(REPLACE ";" " " DCNN_PC_BLAS_LIBS "${BLAS_LIBRARIES}")
  set(DCNN_BLAS_VIA_PKG_CONFIG FALSE)
endif()
message(STATUS "libdigitcnn: BLAS = ${DCNN_BLAS_DESCRIPTION}")

find_package(ZLIB REQUIRED)
find_package(PNG REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS C)
find_package(Threads REQUIRED)
# The OpenMP runtime of the compiler that built the library (libgomp for gcc,
# libomp for clang) for pkg-config's Libs.private, then threads and libm: -lNAME
# where the compiler finds it by itself, else the library's path (clang's
# libomp.so lives in /usr/lib/llvm-N/lib, which no -l reaches from gcc).
set(DCNN_PC_LIBS_PRIVATE "")
foreach(_dcnn_name IN LISTS OpenMP_C_LIB_NAMES ITEMS pthread m)
  set(_dcnn_flag "-l${_dcnn_name}")
  set(_dcnn_file "${OpenMP_${_dcnn_name}_LIBRARY}")
  if(_dcnn_file AND IS_ABSOLUTE "${_dcnn_file}")
    get_filename_component(_dcnn_dir "${_dcnn_file}" DIRECTORY)
    if(NOT _dcnn_dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
      set(_dcnn_flag "${_dcnn_file}")
    endif()
  endif()
  if(NOT " ${DCNN_PC_LIBS_PRIVATE} " MATCHES " ${_dcnn_flag} ")
    string(APPEND DCNN_PC_LIBS_PRIVATE " ${_dcnn_flag}")
  endif()
endforeach()
if(NOT OpenMP_C_LIB_NAMES)
  string(PREPEND DCNN_PC_LIBS_PRIVATE " ${OpenMP_C_FLAGS}") # e.g. -fopenmp: the driver adds its runtime
endif()
string(STRIP "${DCNN_PC_BLAS_LIBS}${DCNN_PC_LIBS_PRIVATE}" DCNN_PC_LIBS_PRIVATE)
# The same runtime for digitcnnConfig.cmake: a gcc consumer of a clang-built
# library gets this file linked instead of its own libgomp (clang's code calls
# __kmpc_*, which libgomp lacks).
# A gcc build records none: every consumer's OpenMP serves libgomp's calls.
set(DCNN_OPENMP_COMPILER_ID "${CMAKE_C_COMPILER_ID}")
set(DCNN_OPENMP_RUNTIME "")
if(NOT CMAKE_C_COMPILER_ID STREQUAL "GNU")
  foreach(_dcnn_name IN LISTS OpenMP_C_LIB_NAMES)
    if(NOT _dcnn_name STREQUAL "pthread" AND IS_ABSOLUTE "${OpenMP_${_dcnn_name}_LIBRARY}")
      list(APPEND DCNN_OPENMP_RUNTIME "${OpenMP_${_dcnn_name}_LIBRARY}")
    endif()
  endforeach()
endif()
string(APPEND DCNN_PC_REQUIRES_PRIVATE " zlib libpng")

# ONNX export/import (optional, issue #22): protobuf-c (libprotobuf-c-dev), its
# compiler protoc-c (protobuf-c-compiler) and onnx.proto, which Debian's
# python3-onnx ships; C is generated from it at build time (lib/onnx/).
# Without them the dcnn_*onnx* functions exist and fail with DCNN_ERR_UNSUPPORTED.
option(DCNN_ONNX "ONNX export and import (needs protobuf-c, protoc-c and onnx.proto)" ON)
set(DCNN_ONNX_ENABLED OFF)
if(DCNN_ONNX)
  pkg_check_modules(PROTOBUF_C IMPORTED_TARGET libprotobuf-c)
  find_program(DCNN_PROTOC_C protoc-c)
  find_file(DCNN_ONNX_PROTO onnx.proto
    PATHS /usr/lib/python3/dist-packages/onnx /usr/local/lib/python3/dist-packages/onnx
          /usr/share/onnx /usr/include/onnx
    DOC "onnx.proto to generate the ONNX encoder from (python3-onnx ships it)" NO_DEFAULT_PATH)
  if(PROTOBUF_C_FOUND AND DCNN_PROTOC_C AND DCNN_ONNX_PROTO)
    set(DCNN_ONNX_ENABLED ON)
    string(APPEND DCNN_PC_REQUIRES_PRIVATE " libprotobuf-c")
    message(STATUS "libdigitcnn: ONNX = on (protobuf-c ${PROTOBUF_C_VERSION}, ${DCNN_PROTOC_C}, ${DCNN_ONNX_PROTO})")
  else()
    set(_missing "")
    if(NOT PROTOBUF_C_FOUND)
      list(APPEND _missing "libprotobuf-c-dev")
    endif()
    if(NOT DCNN_PROTOC_C)
      list(APPEND _missing "protobuf-c-compiler")
    endif()
    if(NOT DCNN_ONNX_PROTO)
      list(APPEND _missing "onnx.proto (python3-onnx, or -DDCNN_ONNX_PROTO=path)")
    endif()
    string(REPLACE ";" ", " _missing "${_missing}")
    message(STATUS "libdigitcnn: ONNX = off (missing ${_missing})")
  endif()
else()
  message(STATUS "libdigitcnn: ONNX = off (DCNN_ONNX=OFF)")
endif()
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
  message(STATUS "libdigitcnn: MPI = on (MPI ${MPI_C_VERSION}, ${MPI_C_LIBRARIES}; mpirun: ${DCNN_MPIEXEC})")
elseif(NOT MPI_C_FOUND)
  message(STATUS "libdigitcnn: MPI = off (missing MPI for C: libopenmpi-dev openmpi-bin)")
else()
  message(STATUS "libdigitcnn: MPI = off (DCNN_MPI=OFF)")
endif()
