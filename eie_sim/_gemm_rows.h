/* The inner loops of the tensor core's blocked GEMM (eie_sim/_loops.pyx, blocked_gemm): one row
 * of a column block of the output gets one or four entries of that row of W, in ascending K
 * order, one float32 rounding per addition (the products are exact in float32). Vectorized
 * across the block's columns only, so every output keeps its order of additions.
 *
 * With GCC on x86-64 Linux each loop is built twice, for AVX2 and for the baseline, and the
 * running CPU picks one at load time (target_clones): the same bits either way, since no fused
 * multiply-add is enabled and the additions keep their order. */
#ifndef EIE_SIM_GEMM_ROWS_H
#define EIE_SIM_GEMM_ROWS_H

#include <stddef.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define EIE_SIM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define EIE_SIM_CLONES
#endif

EIE_SIM_CLONES
static void eie_sim_add_four(float *restrict acc, const float *restrict x0,
                             const float *restrict x1, const float *restrict x2,
                             const float *restrict x3, float w0, float w1, float w2, float w3,
                             ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++) {
        float a = acc[j] + w0 * x0[j];
        a = a + w1 * x1[j];
        a = a + w2 * x2[j];
        acc[j] = a + w3 * x3[j];
    }
}

EIE_SIM_CLONES
static void eie_sim_add_one(float *restrict acc, const float *restrict x0, float w0, ptrdiff_t n)
{
    for (ptrdiff_t j = 0; j < n; j++)
        acc[j] = acc[j] + w0 * x0[j];
}

#endif
