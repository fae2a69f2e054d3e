/* Run-time vector level of the intrinsics kernels (cpu.h). */
#include <stdatomic.h>

#include "cpu.h"

int dcnn__cpu_isa(void) {
#if DCNN_X86_INTRINSICS && !defined(DCNN_CPU_CEILING_PORTABLE)
  __builtin_cpu_init();
#ifndef DCNN_CPU_CEILING_AVX2
  if (__builtin_cpu_supports("avx512f")) return DCNN_ISA_AVX512;
#endif
  if (__builtin_cpu_supports("avx2")) return DCNN_ISA_AVX2;
#endif
  return DCNN_ISA_PORTABLE;
}

int dcnn__isa_level(dcnn_isa_choice *choice) {
  int level = atomic_load_explicit(choice, memory_order_relaxed);
  if (level < 0) {
    level = dcnn__cpu_isa();
    atomic_store_explicit(choice, level, memory_order_relaxed);
  }
  return level;
}

int dcnn__isa_force(dcnn_isa_choice *choice, int level) {
  const int widest = dcnn__cpu_isa();
  if (level < 0 || level > widest) level = widest;
  atomic_store_explicit(choice, level, memory_order_relaxed);
  return level;
}
