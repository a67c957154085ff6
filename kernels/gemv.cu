// Decode matrix-vector product, the kernel that decides resident decode speed:
//   y[t, j] = epilogue(sum_i W[j, i] * x[t, i] + bias[j])     for a few tokens t
// The building blocks (and how the variants below differ) are in nnl_gemv.cuh.
#include "nnl_gemv.cuh"

// The split-k entries are bounded to 64 registers (4 blocks of 256 threads per SM): one entry
// holds the paths for 1 to 4 tokens and the compiler sizes it for the 4-token one, which left a
// decode step's 1-token path at 2 blocks per SM (128 registers for four rows, two loads each) with
// too few loads in flight. The 4-token path may spill a little instead.
#define NNL_GEMV_BLOCK_VARIANT(name, R, U)                                                        \
    template <typename T>                                                                         \
    __device__ __forceinline__ void name##_impl(const void* w, const float* x, const void* bias,  \
                                                float* y, int n_out, int k, int n_tok, int epilogue) \
    { nnl_gemv_tiled<T, R, U, true>(w, x, bias, y, n_out, k, n_tok, epilogue); }                \
    extern "C" __global__ void __launch_bounds__(256, 4) name##_f16(const void* w, const float* x, const void* bias, float* y, int n_out, int k, int n_tok, int epilogue) \
    { name##_impl<nnl_f16_t>(w, x, bias, y, n_out, k, n_tok, epilogue); }                      \
    extern "C" __global__ void __launch_bounds__(256, 4) name##_bf16(const void* w, const float* x, const void* bias, float* y, int n_out, int k, int n_tok, int epilogue) \
    { name##_impl<nnl_bf16_t>(w, x, bias, y, n_out, k, n_tok, epilogue); }                     \
    extern "C" __global__ void __launch_bounds__(256, 4) name##_f32(const void* w, const float* x, const void* bias, float* y, int n_out, int k, int n_tok, int epilogue) \
    { name##_impl<nnl_f32_t>(w, x, bias, y, n_out, k, n_tok, epilogue); }

// Entries by rows per warp and 16-byte loads in flight per row and lane (nnl_gemv_* = 1 row, 4 loads).
// nnl_gemv_tiled begins the kernel itself (nnl_grid_begin).
#define NNL_GEMV_VARIANT(name, R, U, BLOCK)                                                       \
    template <typename T>                                                                         \
    __device__ __forceinline__ void name##_impl(const void* w, const float* x, const void* bias,  \
                                                float* y, int n_out, int k, int n_tok, int epilogue) \
    { nnl_gemv_tiled<T, R, U, BLOCK>(w, x, bias, y, n_out, k, n_tok, epilogue); }               \
    NNL_WEIGHT_ENTRIES_SELF_BEGUN(name,                                                           \
        (const void* w, const float* x, const void* bias, float* y, int n_out, int k, int n_tok, int epilogue), \
        (w, x, bias, y, n_out, k, n_tok, epilogue))

NNL_GEMV_VARIANT(nnl_gemv, 1, 4, false)
NNL_GEMV_VARIANT(nnl_gemv_u8, 1, 8, false)
NNL_GEMV_VARIANT(nnl_gemv_r2, 2, 4, false)
NNL_GEMV_VARIANT(nnl_gemv_r4, 4, 2, false)
NNL_GEMV_VARIANT(nnl_gemv_r4u4, 4, 4, false)
// Split-k entries (nnl_gemv_block_rows): a block per R rows; block = 32..256 threads (the host
// gives about one thread per 16-byte vector of a row), grid ceil(n_out / R) or fewer.
// (Also measured, H200: four rows with two loads each and eight rows with one spilled under the
// bound and ran at half the bandwidth or less.)
NNL_GEMV_BLOCK_VARIANT(nnl_gemv_b2, 2, 4)
NNL_GEMV_BLOCK_VARIANT(nnl_gemv_b4, 4, 1)
