// channel_norm.hpp: normalisation per channel of [N, C, S] arrays (BatchNorm2d: S = H * W).
#pragma once
#include <cstdint>

namespace sg {

// The sizes of one call: x is [n, c, s], C-contiguous; the statistics run over n and s.
struct ChannelNormShape {
    std::int64_t n, c, s;
};

// channel_norm_forward: x [N, C, S] -> y [N, C, S], mean [C], var [C], inv_std [C] (the statistics
// in double for either dtype: a float32 mean of 1e4 would move x_hat by 5e-4), with the batch's
// statistics (two passes over each channel, summed in double):
//   mean_c = sum(x[:, c, :]) / (N S),  var_c = sum((x - mean_c)^2) / divisor,
//   inv_std_c = 1 / sqrt(var_c + eps),  y = (x - mean_c) * (inv_std_c * weight_c) + bias_c
// weight / bias may be null (1 and 0). Parallel over channels. Throws std::invalid_argument for
// negative sizes, null pointers where data is needed, divisor <= 0 or eps < 0 (or not finite);
// std::length_error when N * C * S overflows int64.
void channel_norm_forward(const float* x, ChannelNormShape shape, const float* weight,
                          const float* bias, double eps, double divisor, float* y, double* mean,
                          double* var, double* inv_std);
void channel_norm_forward(const double* x, ChannelNormShape shape, const double* weight,
                          const double* bias, double eps, double divisor, double* y,
                          double* mean, double* var, double* inv_std);

// channel_norm_apply: x [N, C, S], mean, inv_std [C] given (eval: the running statistics) ->
// y = (x - mean_c) * (inv_std_c * weight_c) + bias_c [N, C, S]. Same throws.
void channel_norm_apply(const float* x, ChannelNormShape shape, const double* mean,
                        const double* inv_std, const float* weight, const float* bias, float* y);
void channel_norm_apply(const double* x, ChannelNormShape shape, const double* mean,
                        const double* inv_std, const double* weight, const double* bias,
                        double* y);

// channel_norm_backward: x, dy [N, C, S], mean, inv_std [C] (the forward's) -> dx [N, C, S],
// dweight [C], dbias [C]. With x_hat = (x - mean_c) inv_std_c (sums in double):
//   dbias_c = sum(dy),  dweight_c = sum(dy x_hat),
//   dx = weight_c inv_std_c (dy - dbias_c / (N S) - x_hat dweight_c / divisor)   (batch_stats)
//   dx = weight_c inv_std_c dy                                                   (fixed stats)
// weight may be null (1); dx may be null (not wanted). Same throws as the forward.
void channel_norm_backward(const float* x, const float* dy, ChannelNormShape shape,
                           const double* mean, const double* inv_std, const float* weight,
                           bool batch_stats, double divisor, float* dx, float* dweight,
                           float* dbias);
void channel_norm_backward(const double* x, const double* dy, ChannelNormShape shape,
                           const double* mean, const double* inv_std, const double* weight,
                           bool batch_stats, double divisor, double* dx, double* dweight,
                           double* dbias);

}  // namespace sg
