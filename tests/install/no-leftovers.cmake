# Included by the consumers right after find_package(digitcnn): the package's
# config runs in the caller's scope and must not leave its own names there.
get_cmake_property(_consumer_variables VARIABLES)
list(FILTER _consumer_variables INCLUDE REGEX "^_dcnn_")
if(_consumer_variables)
  message(FATAL_ERROR "find_package(digitcnn) left its variables behind: ${_consumer_variables}")
endif()
