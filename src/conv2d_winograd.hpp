// conv2d_winograd.hpp: float32 3x3 stride-1 conv2d by Winograd's minimal filtering F(2x2, 3x3).
#pragma once
#include "conv2d.hpp"

namespace sg {

// F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016): each
// 2x2 block of outputs of one (output, input) channel pair is A^T [(G g G^T) * (B^T d B)] A, with
// g the 3x3 kernel, d the 4x4 input patch under the block and * elementwise, so the channel sum
// becomes 16 GEMMs, one per element xi of the 4x4 transformed tiles:
//   U [16][O, C] = G g G^T      V [16][C, tiles] = B^T d B      M [16][O, tiles] = U @ V
//   y = A^T M A + bias
// 16 products per 4 outputs instead of 36: 2.25x fewer multiplies than the direct sum, paid for
// by the transforms, which cost O(C + O) per tile against the products' O(C * O). The transforms
// add and halve only, so the results differ from the direct sum by rounding alone (RMS error
// against float64 0.9-1.9x the direct sum's at 64-512 channels, measured; tests allow 3x).

// Whether conv2d's float32 forward, input gradient (as the forward of dy) and weight gradient take
// this form: a 3x3 kernel, stride 1, no dilation, one group, and at least 32 input and output
// channels (below that the transforms cost more than the products save; benchmarks/NOTES.md,
// items 19 and 21). The tile transforms are the kernel set's (gemm_kernels.hpp): AVX-512 or
// portable, the same bits.
bool winograd_applies(const Conv2dGeometry& g);

// y [N,O,Ho,Wo] = conv2d(x [N,C,H,W], weight) + bias[o] (bias may be null), borders reading
// `pad_value`, on `threads` threads; g checked, winograd_applies(g). With `flip`, weight is stored
// [C, O, 3, 3] and used flipped: w[o, c, i, j] = weight[c, o, 2-i, 2-j] (dx as the forward of dy).
// Returns false, with y partly written, when any output is not finite: an inf or NaN in x, weight
// or bias spreads over whole tiles here (and a huge finite input could overflow a transform), so
// the caller then recomputes y by the direct sum. Blocks of tiles are fixed by the sizes, so the
// bits do not depend on the thread count.
bool winograd_forward(const Conv2dGeometry& g, const float* x, const float* weight, bool flip,
                      const float* bias, float pad_value, float* y, int threads);

// dweight [O,C,3,3] of the forward above, from x [N,C,H,W] and dy [N,O,Ho,Wo], by the same
// algorithm transposed: with D = A dy A^T per tile (dy zero past the edges),
//   dU [16][O, C] = sum over tiles of D [16][O, tiles] @ V[16][C, tiles]^T     dweight = G^T dU G
// Blocks of tiles are transformed on all threads, then each thread adds whole blocks' products to
// its share of the 16 dU planes, block after block: the sums run in one order for any thread
// count. Returns false, with dweight partly written, when any value is not finite (as above).
bool winograd_weight_grad(const Conv2dGeometry& g, const float* x, const float* dy, float pad_value,
                          float* dweight, int threads);

}  // namespace sg
