# Debian packages with CPack (`cpack -G DEB` in a build tree configured with
# -DCMAKE_INSTALL_PREFIX=/usr, so that the library goes to Debian's multiarch
# libdir). One package per install component, named as Debian names them:
#   libdigitcnn<SOVERSION>  runtime: the shared library (libdigitcnn.so.0.2)
#   libdigitcnn-dev         development: headers, static library, the .so link,
#                           CMake package, pkg-config file, docs
#   digitcnn-tools          tools: the example programs (digitcnn-paper, ...)
#   libdigitcnn-mpi<SOVERSION>  mpi (with DCNN_MPI): libdigitcnn_mpi; the tools
#                           then depend on it (they join mpirun jobs)
#   libdigitcnn-mpi-dev     mpi_development (with DCNN_MPI): digitcnn/mpi.h, the
#                           .so link, CMake targets (digitcnn::mpi), digitcnn-mpi.pc
# Each has its copyright file; dpkg-shlibdeps (dpkg-dev) computes the run-time
# dependencies, the development package names the -dev packages that static
# linking and pkg-config need.
get_target_property(_dcnn_soversion digitcnn SOVERSION)
set(DCNN_DEB_RUNTIME libdigitcnn${_dcnn_soversion})
set(CPACK_PACKAGE_NAME digitcnn)
set(CPACK_PACKAGE_VENDOR "The libdigitcnn developers")
set(CPACK_PACKAGE_CONTACT "The libdigitcnn developers <maintainers@users.noreply.b-seed-61d6f02c.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_RESOURCE_FILE_LICENSE "${PROJECT_SOURCE_DIR}/LICENSE")
set(CPACK_GENERATOR DEB)
# Install with CMAKE_INSTALL_PREFIX = the package's prefix (and DESTDIR for the
# staging tree): the pkg-config file is written with the prefix seen at install time.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_PROJECT_CONFIG_FILE "${PROJECT_SOURCE_DIR}/cmake/DigitcnnCPackChecks.cmake")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(_dcnn_deb_components runtime development tools)
if(DCNN_MPI)
  list(APPEND _dcnn_deb_components mpi mpi_development)
endif()
set(CPACK_COMPONENTS_ALL ${_dcnn_deb_components})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The tools link libdigitcnn.so.0.2 from this build, not from an installed package.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${PROJECT_BINARY_DIR}/lib" "${PROJECT_BINARY_DIR}/lib/mpi")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${DCNN_DEB_RUNTIME})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
# A shlibs file, so that dpkg-shlibdeps of programs linking the library finds it.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME libdigitcnn-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
  "${DCNN_DEB_RUNTIME} (= ${PROJECT_VERSION}), libopenblas-dev, libpng-dev, zlib1g-dev, pkg-config")
if(DCNN_ONNX_ENABLED) # the static library's ONNX code links protobuf-c
  string(APPEND CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS ", libprotobuf-c-dev")
endif()
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME digitcnn-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${DCNN_DEB_RUNTIME} (= ${PROJECT_VERSION})")
if(DCNN_MPI)
  set(DCNN_DEB_MPI libdigitcnn-mpi${_dcnn_soversion})
  set(CPACK_DEBIAN_MPI_PACKAGE_NAME ${DCNN_DEB_MPI})
  set(CPACK_DEBIAN_MPI_PACKAGE_SECTION libs)
  # dpkg-shlibdeps adds Open MPI's runtime (libopenmpi3)
  set(CPACK_DEBIAN_MPI_PACKAGE_DEPENDS "${DCNN_DEB_RUNTIME} (= ${PROJECT_VERSION})")
  set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "${CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS}, ${DCNN_DEB_MPI} (= ${PROJECT_VERSION})")
  set(CPACK_DEBIAN_MPI_DEVELOPMENT_PACKAGE_NAME libdigitcnn-mpi-dev)
  set(CPACK_DEBIAN_MPI_DEVELOPMENT_PACKAGE_SECTION libdevel)
  # digitcnn/mpi.h includes the core headers, not MPI's: no libopenmpi-dev
  set(CPACK_DEBIAN_MPI_DEVELOPMENT_PACKAGE_DEPENDS
    "${DCNN_DEB_MPI} (= ${PROJECT_VERSION}), libdigitcnn-dev (= ${PROJECT_VERSION})")
  set(CPACK_COMPONENT_MPI_DEVELOPMENT_DESCRIPTION
    "${PROJECT_DESCRIPTION}: MPI development files\n digitcnn/mpi.h, the libdigitcnn_mpi.so link, CMake targets (digitcnn::mpi)\n and pkg-config file (digitcnn-mpi).")
  set(CPACK_COMPONENT_MPI_DESCRIPTION
    "${PROJECT_DESCRIPTION}: MPI communicator\n libdigitcnn_mpi for data-parallel training over MPI.")
endif()
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
  "${PROJECT_DESCRIPTION}: shared library\n Trains and evaluates convolutional networks on digit images (MNIST-M).")
set(CPACK_COMPONENT_DEVELOPMENT_DESCRIPTION
  "${PROJECT_DESCRIPTION}: development files\n Headers, static library, CMake package (digitcnn::digitcnn,\n digitcnn::digitcnn_static), pkg-config file and documentation.")
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
  "${PROJECT_DESCRIPTION}: command-line programs\n digitcnn-paper, digitcnn-classify, digitcnn-table1 and the other examples.")

# Debian wants /usr/share/doc/<package>/copyright in every package (only the
# packages install these, not a plain `cmake --install`).
foreach(_component ${_dcnn_deb_components})
  string(TOUPPER ${_component} _upper)
  install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" RENAME copyright
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${CPACK_DEBIAN_${_upper}_PACKAGE_NAME}
    COMPONENT ${_component} EXCLUDE_FROM_ALL)
endforeach()

include(CPack)
