include(CMakePackageConfigHelpers)

# Components (the Debian packages of cmake/DigitcnnPackage.cmake): runtime (the
# shared library), development (headers, static library, CMake and pkg-config
# files, docs), tools (the example programs, examples/CMakeLists.txt); with
# DCNN_MPI, mpi (libdigitcnn_mpi) and mpi_development (its header, .so link,
# CMake targets and pkg-config file).
install(TARGETS digitcnn digitcnn_static
  EXPORT digitcnnTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT development
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT development
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The installed archive leaves only the public names global, as the shared library does (a review): its
# objects become one (ld -r) whose hidden symbols (the internals, and protobuf-c's generated onnx__* code)
# are made local (objcopy --localize-hidden; also clang's target_clones resolvers, which it makes global
# whatever the visibility), so that none can clash with a program's own. The build tree's archive keeps
# them: the unit tests call internals. A static program then links the whole library (one object).
install(CODE "
  set(_dcnn_tools \"${CMAKE_LINKER};${CMAKE_OBJCOPY};${CMAKE_AR}\")
  if(_dcnn_tools MATCHES \"NOTFOUND\" OR _dcnn_tools MATCHES \"^;|;;|;$\")
    message(WARNING \"libdigitcnn.a keeps its internal symbols global: no linker, objcopy or ar was found\")
  else()
    if(IS_ABSOLUTE \"${CMAKE_INSTALL_LIBDIR}\")
      set(_dcnn_a \"\$ENV{DESTDIR}${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:digitcnn_static>\")
    else()
      set(_dcnn_a \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:digitcnn_static>\")
    endif()
    execute_process(COMMAND \"${CMAKE_LINKER}\" -r --whole-archive \"\${_dcnn_a}\" -o \"\${_dcnn_a}.o\"
                    RESULT_VARIABLE _dcnn_rc)
    if(_dcnn_rc EQUAL 0)
      execute_process(COMMAND \"${CMAKE_OBJCOPY}\" --localize-hidden --wildcard --localize-symbol=*.resolver
                              \"\${_dcnn_a}.o\" RESULT_VARIABLE _dcnn_rc)
    endif()
    if(_dcnn_rc EQUAL 0)
      file(REMOVE \"\${_dcnn_a}\")
      execute_process(COMMAND \"${CMAKE_AR}\" qc \"\${_dcnn_a}\" \"\${_dcnn_a}.o\" RESULT_VARIABLE _dcnn_rc)
    endif()
    file(REMOVE \"\${_dcnn_a}.o\")
    if(NOT _dcnn_rc EQUAL 0)
      message(FATAL_ERROR \"cannot localise the internal symbols of \${_dcnn_a} (ld -r, objcopy, ar)\")
    endif()
  endif()
  " COMPONENT development)
# digitcnn/mpi.h declares libdigitcnn_mpi's functions: installed with that library only.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT development FILES_MATCHING PATTERN "*.h" PATTERN "mpi.h" EXCLUDE)
file(GLOB _dcnn_docs ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/CHANGELOG.md
  ${PROJECT_SOURCE_DIR}/LICENSE ${_dcnn_docs}
  DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT development)

set(DCNN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/digitcnn)
install(EXPORT digitcnnTargets NAMESPACE digitcnn:: DESTINATION ${DCNN_CMAKE_DIR} COMPONENT development)
# libdigitcnn_mpi (DCNN_MPI): its own export set, which the package config
# includes when present (find_package(digitcnn COMPONENTS mpi) requires it).
if(DCNN_MPI)
  install(TARGETS digitcnn_mpi
    EXPORT digitcnnMpiTargets
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT mpi NAMELINK_COMPONENT mpi_development
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/include/digitcnn/mpi.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/digitcnn
    COMPONENT mpi_development)
  install(EXPORT digitcnnMpiTargets NAMESPACE digitcnn:: DESTINATION ${DCNN_CMAKE_DIR} COMPONENT mpi_development)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/digitcnnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/digitcnnConfig.cmake INSTALL_DESTINATION ${DCNN_CMAKE_DIR})
# Compatible versions share the SONAME: before 1.0 that is the same minor
# version (a request for 0.1 does not accept 0.2), afterwards the same major.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(_dcnn_compatibility SameMinorVersion)
else()
  set(_dcnn_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/digitcnnConfigVersion.cmake
  COMPATIBILITY ${_dcnn_compatibility})
install(FILES ${PROJECT_BINARY_DIR}/digitcnnConfig.cmake ${PROJECT_BINARY_DIR}/digitcnnConfigVersion.cmake
  DESTINATION ${DCNN_CMAKE_DIR} COMPONENT development)

# The pkg-config file names the prefix actually installed into, which only the
# install step knows (`cmake --install --prefix P`; cpack installs with
# CMAKE_INSTALL_PREFIX /usr and DESTDIR, CPACK_SET_DESTDIR): /usr as it is,
# any other prefix as ${pcfiledir}/../.. (the tree can be moved). Directories given
# relative (GNUInstallDirs' defaults, e.g. lib/x86_64-linux-gnu for /usr on
# Debian) follow ${prefix}; absolute ones are kept as they are.
foreach(_dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${_dir}}")
    set(DCNN_PC_${_dir} "${CMAKE_INSTALL_${_dir}}")
  else()
    set(DCNN_PC_${_dir} "\${prefix}/${CMAKE_INSTALL_${_dir}}")
  endif()
endforeach()
set(DCNN_PC_PREFIX "@DCNN_PC_PREFIX@") # filled in at install time
configure_file(${PROJECT_SOURCE_DIR}/cmake/digitcnn.pc.in ${PROJECT_BINARY_DIR}/digitcnn.pc.in @ONLY)
foreach(_pc digitcnn digitcnn-mpi)
  if(_pc STREQUAL "digitcnn-mpi" AND NOT DCNN_MPI)
    continue()
  endif()
  # digitcnn-mpi.pc goes with libdigitcnn_mpi's development files (package libdigitcnn-mpi-dev)
  set(_dcnn_component development)
  if(_pc STREQUAL "digitcnn-mpi")
    set(_dcnn_component mpi_development)
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/cmake/${_pc}.pc.in ${PROJECT_BINARY_DIR}/${_pc}.pc.in @ONLY)
install(CODE "
  # An absolute prefix (--prefix may be given relative to the working directory).
  get_filename_component(_dcnn_prefix \"\${CMAKE_INSTALL_PREFIX}\" ABSOLUTE)
  if(IS_ABSOLUTE \"${CMAKE_INSTALL_LIBDIR}\")
    set(_dcnn_pc_dir \"${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
  else()
    set(_dcnn_pc_dir \"\${_dcnn_prefix}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\")
  endif()
  # /usr as it is (pkg-config filters its system directories); any other prefix
  # relative to the .pc file's own directory, so that the tree can be moved.
  if(_dcnn_prefix STREQUAL \"/usr\" OR IS_ABSOLUTE \"${CMAKE_INSTALL_LIBDIR}\")
    set(DCNN_PC_PREFIX \"\${_dcnn_prefix}\")
  else()
    file(RELATIVE_PATH _dcnn_up \"\${_dcnn_pc_dir}\" \"\${_dcnn_prefix}\")
    string(REGEX REPLACE \"/$\" \"\" _dcnn_up \"\${_dcnn_up}\")
    set(DCNN_PC_PREFIX \"\\\${pcfiledir}/\${_dcnn_up}\")
  endif()
  configure_file(\"${PROJECT_BINARY_DIR}/${_pc}.pc.in\" \"${PROJECT_BINARY_DIR}/pkgconfig/${_pc}.pc\" @ONLY)
  file(INSTALL DESTINATION \"\${_dcnn_pc_dir}\" TYPE FILE FILES \"${PROJECT_BINARY_DIR}/pkgconfig/${_pc}.pc\")
  " COMPONENT ${_dcnn_component})
endforeach()
