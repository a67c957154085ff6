// SwiGLU, the Llama MLP's gate: y = silu(gate) * up.
#include "nnl_common.cuh"

// Any grid (grid-stride over rows*cols). gate and up may be two halves of one fused projection
// (strides), y may alias gate or up.
extern "C" __global__ void nnl_swiglu(
    const float* gate,   // [rows, gate_stride], first cols columns used
    const float* up,     // [rows, up_stride],   first cols columns used
    float* y,            // [rows, y_stride]
    int rows, int cols, int gate_stride, int up_stride, int y_stride)
{
    nnl_grid_begin();
    size_t total = (size_t)rows * cols;
    for (size_t i = nnl_global_thread(); i < total; i += nnl_grid_threads())
    {
        size_t r = i / cols, c = i % cols;
        float g = gate[r * gate_stride + c];
        y[r * y_stride + c] = g / (1.0f + expf(-g)) * up[r * up_stride + c];
    }
}
