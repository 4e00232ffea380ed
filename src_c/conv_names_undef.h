/*
 * Undoes what conv.c defines for each element type before it includes the
 * templates (REAL, FC_NAME, the GEMM tile sizes and the kernels' names), so
 * that the float32 and float64 instantiations name their kernels in one
 * place each and clear them in this one (no include guard: included once
 * after each).
 */
#undef REAL
#undef FC_NAME
#undef GEMM_MR
#undef GEMM_NR
#undef GEMM_UKERNEL_GENERIC
#undef GEMM_UKERNEL_AVX2
#undef GEMM_UKERNEL_PF_AVX2
#undef GEMM_UKERNEL_TAIL_AVX2
#undef GEMM_INDEXED_AVX2
#undef GEMM_INDEXED_TAIL_AVX2
#undef GEMM_UKERNEL_AVX512
#undef GEMM_UKERNEL_DOUBLE_AVX512
#undef GEMM_INDEXED_AVX512
#undef GEMM_INDEXED_DOUBLE_AVX512
#undef GEMM_INDEXED_DOUBLE_PF_AVX512
#undef GEMM_UKERNEL_TAIL_AVX512
#undef GEMM_INDEXED_TAIL_AVX512
#undef GEMM_UKERNEL_MR2_AVX512
#undef GEMM_INDEXED_MR2_AVX512
#undef GEMM_DOT_GENERIC
#undef GEMM_GWOP_AVX2
#undef GEMM_GWOP_PACK_AVX2
#undef GEMM_EVERY_OTHER_AVX2
#undef GEMM_GWOP_AVX512
#undef GEMM_GWOP_TRIPLE_AVX512
#undef GEMM_GWOP_PAIRS_AVX512
#undef GEMM_GWOP_TAIL_AVX512
#undef GEMM_GWOP_HALF_AVX512
#undef GEMM_GWOP_HALF_TAIL_AVX512
#undef GEMM_GWOP_PACK_AVX512
#undef GEMM_GWOP_QUARTER_AVX512
#undef GEMM_GWOP_QUARTER_TAIL_AVX512
#undef GEMM_EVERY_OTHER_AVX512
#undef GEMM_ADD_RUN_AVX512
#undef GEMM_EVERY_OTHER_PLAN_AVX512
#undef GEMM_PACK_A_AVX512
#undef GEMM_GWOP_UNPACK_AVX512
#undef GEMM_BLOCKING_GENERIC
#undef GEMM_BLOCKING_AVX2
#undef GEMM_BLOCKING_AVX512
