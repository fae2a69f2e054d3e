/* Run-time CPU dispatch for the hot loops of lib/kernels and lib/layers.
 *
 * DCNN_CPU_CLONES before a function definition makes the compiler emit an
 * x86-64-v4 (AVX-512), an x86-64-v3 (AVX2 + FMA) and a portable version of it
 * (with clang: AVX-512F, AVX + FMA and portable; DCNN_CPU_CEILING, below,
 * leaves out the wider ones); the dynamic loader picks one for the CPU the
 * program runs on, once. The portable build therefore stays portable
 * (DCNN_NATIVE stays off) and still uses the machine's widest vectors. On one
 * machine the same version always runs, so results stay bit-identical from run
 * to run. Elsewhere (not x86-64, not GCC/Clang, or DCNN_NO_CPU_CLONES defined)
 * the macro is empty.
 *
 * Put it on static functions only, behind a plain external entry point:
 * clang 14 emits an external clone set under its ".ifunc" name alone, which
 * callers in other files cannot link to. */
#ifndef DCNN_KERNELS_CPU_H
#define DCNN_KERNELS_CPU_H

/* ThreadSanitizer instruments the clones' resolver, which the dynamic loader
 * runs before the sanitizer's runtime is up (a crash at load): no clones there. */
#if defined(__SANITIZE_THREAD__) && !defined(DCNN_NO_CPU_CLONES)
#define DCNN_NO_CPU_CLONES 1
#elif defined(__has_feature) && !defined(DCNN_NO_CPU_CLONES)
#if __has_feature(thread_sanitizer)
#define DCNN_NO_CPU_CLONES 1
#endif
#endif

/* DCNN_CPU_CEILING (CMake) caps the vector level below the CPU's, so that one
 * machine runs what an AVX2-only or a pre-AVX2 CPU would (tests, CI): the
 * clones stop at AVX2 + FMA (or are not made) and dcnn__cpu_isa stops there.
 * Flags that make every function wider would undo it silently. */
#if defined(DCNN_CPU_CEILING_PORTABLE) && !defined(DCNN_NO_CPU_CLONES)
#define DCNN_NO_CPU_CLONES 1
#endif
#if defined(DCNN_CPU_CEILING_AVX2) && defined(__AVX512F__)
#error "DCNN_CPU_CEILING=avx2 with flags that enable AVX-512 everywhere (-march=..., -mavx512f)"
#endif
#if defined(DCNN_CPU_CEILING_PORTABLE) && (defined(__AVX__) || defined(__FMA__))
#error "DCNN_CPU_CEILING=portable with flags that enable AVX or FMA everywhere (-march=..., -mavx)"
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(DCNN_NO_CPU_CLONES) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#if defined(DCNN_CPU_CEILING_AVX2) && defined(__clang__)
#define DCNN_CPU_CLONES __attribute__((target_clones("fma", "default")))
#elif defined(DCNN_CPU_CEILING_AVX2)
#define DCNN_CPU_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#elif defined(__clang__)
/* Clang 14 keeps only the first "arch=x86-64-vN" clone and dispatches it by
 * CPU model, which no real CPU matches: every clang build ran the portable
 * version. Clones named by feature are dispatched by feature; "avx512f"
 * implies AVX2 and FMA, "fma" implies AVX (all that float loops need). */
#define DCNN_CPU_CLONES __attribute__((target_clones("avx512f", "fma", "default")))
#else
#define DCNN_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#define DCNN_HAVE_CPU_CLONES 1
#endif
#endif
#ifndef DCNN_CPU_CLONES
#define DCNN_CPU_CLONES
#endif

/* Kernels with hand-written intrinsics (small_gemm.c, winograd_transform.c)
 * choose their vector level at run time instead: once per kernel family, from
 * the CPU, and tests force a lower level to cover every path on one machine. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DCNN_X86_INTRINSICS 1
#else
#define DCNN_X86_INTRINSICS 0
#endif

enum { DCNN_ISA_PORTABLE = 0, DCNN_ISA_AVX2 = 1, DCNN_ISA_AVX512 = 2 };

/* One kernel family's level: -1 until its first use. */
typedef _Atomic int dcnn_isa_choice;

/* The widest level this CPU runs, at most DCNN_CPU_CEILING's (DCNN_ISA_PORTABLE
 * off x86-64). */
int dcnn__cpu_isa(void);

/* The family's level: the CPU's, resolved on first use, or the forced one. */
int dcnn__isa_level(dcnn_isa_choice *choice);

/* Forces the family's level (tests): `level` if the CPU runs it, else the
 * CPU's widest; a negative `level` restores the CPU's. Returns the level set. */
int dcnn__isa_force(dcnn_isa_choice *choice, int level);

#endif
