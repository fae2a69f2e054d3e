# Read by cpack itself (CPACK_PROJECT_CONFIG_FILE), once per generator, before
# anything is installed: what a package would get wrong is refused here.
# Debian policy (9.1.2) forbids packages that install into /usr/local, which is
# CMake's default prefix: a tree configured without -DCMAKE_INSTALL_PREFIX=/usr.
if(CPACK_GENERATOR STREQUAL "DEB" AND CPACK_PACKAGING_INSTALL_PREFIX MATCHES "^/usr/local(/|$)")
  message(FATAL_ERROR
    "libdigitcnn: this build tree installs into ${CPACK_PACKAGING_INSTALL_PREFIX}, where Debian packages must not put "
    "files; configure a tree with -DCMAKE_INSTALL_PREFIX=/usr for `cpack -G DEB` (README, \"Install (Debian packages)\")")
endif()
