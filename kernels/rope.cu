// Rotary position embedding, half-split ("neox") form as HF Llama applies it:
//   out = x * cos + rotate_half(x) * sin,  rotate_half(x) = cat(-x[half:], x[:half]).
// inv_freq is computed on the host, so Llama 3.1 / linear / NTK scaling cost nothing here.
#include "nnl_common.cuh"

// In place. Any grid (grid-stride over n_tokens * n_heads * rot_dim/2). The first rot_dim
// dimensions of each head rotate (partial rotary); the rest are left alone. The angle is
// position * inv_freq in fp32, as HF computes it, then an accurate sincos.
extern "C" __global__ void nnl_rope(
    float* x,                           // [n_tokens, row_stride]; head h at columns [h*head_dim, (h+1)*head_dim)
    const int* __restrict__ positions,  // [n_tokens]
    const float* __restrict__ inv_freq, // [rot_dim / 2]
    int n_tokens, int n_heads, int head_dim, int rot_dim, int row_stride,
    float attention_factor)             // scales cos and sin (YaRN-style scaling; 1 otherwise)
{
    nnl_grid_begin();
    int half = rot_dim / 2;
    size_t total = (size_t)n_tokens * n_heads * half;
    for (size_t idx = nnl_global_thread(); idx < total; idx += nnl_grid_threads())
    {
        int i = (int)(idx % half);
        size_t th = idx / half;
        int h = (int)(th % n_heads), t = (int)(th / n_heads);
        float angle = (float)positions[t] * inv_freq[i];
        float s, c;
        sincosf(angle, &s, &c);
        s *= attention_factor;
        c *= attention_factor;
        float* p = x + (size_t)t * row_stride + (size_t)h * head_dim;
        float a = p[i], b = p[i + half];
        p[i] = a * c - b * s;
        p[i + half] = b * c + a * s;
    }
}
