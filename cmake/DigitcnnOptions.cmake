# Compiler flags shared by every target of the project.
add_library(digitcnn_flags INTERFACE)
target_compile_options(digitcnn_flags INTERFACE
  $<$<COMPILE_LANG_AND_ID:C,GNU,Clang>:-Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes>
  $<$<COMPILE_LANG_AND_ID:CXX,GNU,Clang>:-Wall -Wextra -Wpedantic>)
if(DCNN_WERROR)
  target_compile_options(digitcnn_flags INTERFACE -Werror)
endif()
if(DCNN_NATIVE)
  # Fastest on the build machine, but the binaries may not run on older CPUs.
  target_compile_options(digitcnn_flags INTERFACE -march=native)
endif()
if(DCNN_NATIVE AND NOT DCNN_CPU_CEILING STREQUAL "")
  message(FATAL_ERROR "DCNN_NATIVE (-march=native) and DCNN_CPU_CEILING exclude each other")
elseif(DCNN_CPU_CEILING STREQUAL "avx2")
  # What an AVX2-only CPU (Zen 3, Haswell) runs, on any CPU: its tolerances get checked here.
  target_compile_definitions(digitcnn_flags INTERFACE DCNN_CPU_CEILING_AVX2=1)
elseif(DCNN_CPU_CEILING STREQUAL "portable")
  target_compile_definitions(digitcnn_flags INTERFACE DCNN_CPU_CEILING_PORTABLE=1)
elseif(NOT DCNN_CPU_CEILING STREQUAL "")
  message(FATAL_ERROR "DCNN_CPU_CEILING is '${DCNN_CPU_CEILING}': use avx2, portable or leave it empty")
endif()
if(DCNN_CPU_CEILING STREQUAL "")
  message(STATUS "libdigitcnn: kernels = the CPU's widest, chosen at run time")
else()
  # a cached value outlives the configure that set it: say so every time
  message(STATUS "libdigitcnn: kernels = at most ${DCNN_CPU_CEILING} (DCNN_CPU_CEILING; OpenBLAS picks its own)")
endif()
if(DCNN_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "DCNN_FUZZ needs clang (libFuzzer): configure with -DCMAKE_C_COMPILER=clang")
  endif()
  # Checksums would stop the fuzzer at the door: fuzzing builds skip the CRC comparison
  # (the standard FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION convention) to reach the parsers.
  target_compile_options(digitcnn_flags INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
  target_compile_definitions(digitcnn_flags INTERFACE FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
  target_link_options(digitcnn_flags INTERFACE -fsanitize=address,undefined)
endif()
if(DCNN_SANITIZE)
  target_compile_options(digitcnn_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_link_options(digitcnn_flags INTERFACE -fsanitize=address,undefined)
endif()
if(DCNN_TSAN)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang" OR DCNN_SANITIZE OR DCNN_FUZZ)
    message(FATAL_ERROR "DCNN_TSAN needs clang (-DCMAKE_C_COMPILER=clang) and excludes DCNN_SANITIZE and DCNN_FUZZ")
  endif()
  # libomp is not instrumented, so a parallel region would look racy to TSan:
  # DCNN_TSAN makes new contexts (and the tests' contexts) use 1 thread, so
  # only the caller's own threads run library code at once.
  target_compile_options(digitcnn_flags INTERFACE -fsanitize=thread -fno-omit-frame-pointer -g)
  target_compile_definitions(digitcnn_flags INTERFACE DCNN_TSAN=1)
  # clang links the TSan runtime into executables only: the shared library keeps
  # the __tsan_ symbols undefined (lifting its --no-undefined), the programs define them.
  target_link_options(digitcnn_flags INTERFACE -fsanitize=thread "LINKER:-z,undefs")
endif()
