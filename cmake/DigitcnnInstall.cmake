include(CMakePackageConfigHelpers)

install(TARGETS digitcnn digitcnn_static
  EXPORT digitcnnTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

set(DCNN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/digitcnn)
install(EXPORT digitcnnTargets NAMESPACE digitcnn:: DESTINATION ${DCNN_CMAKE_DIR})
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
  DESTINATION ${DCNN_CMAKE_DIR})

configure_file(${PROJECT_SOURCE_DIR}/cmake/digitcnn.pc.in ${PROJECT_BINARY_DIR}/digitcnn.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/digitcnn.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
