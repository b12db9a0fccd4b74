// channel_norm.cpp: per-channel batch statistics, normalisation and its gradient, parallel over channels.
#include "channel_norm.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "checked_math.hpp"
#include "threads.hpp"

namespace sg {

namespace {

// Independent partial sums per loop: the compiler keeps them in one vector register, so the sums
// run at vector speed without reassociating any one of them (no -ffast-math).
constexpr int kLanes = 8;

// sum(p[0..count)) in double
template <typename T>
double sum_of(const T* p, std::int64_t count) {
    double acc[kLanes] = {};
    std::int64_t i = 0;
    for (; i + kLanes <= count; i += kLanes)
        for (int j = 0; j < kLanes; ++j) acc[j] += double(p[i + j]);
    double total = 0;
    for (; i < count; ++i) total += double(p[i]);
    for (int j = 0; j < kLanes; ++j) total += acc[j];
    return total;
}

// sum((p - m)^2) over p[0..count), in double
template <typename T>
double squares_about(const T* p, std::int64_t count, double m) {
    double acc[kLanes] = {};
    std::int64_t i = 0;
    for (; i + kLanes <= count; i += kLanes)
        for (int j = 0; j < kLanes; ++j) {
            const double d = double(p[i + j]) - m;
            acc[j] += d * d;
        }
    double total = 0;
    for (; i < count; ++i) {
        const double d = double(p[i]) - m;
        total += d * d;
    }
    for (int j = 0; j < kLanes; ++j) total += acc[j];
    return total;
}

// sum(dy) and sum(dy * (x - m)) over [0..count), in double, added to `sum_dy` and `sum_dy_d`
template <typename T>
void gradient_sums(const T* x, const T* dy, std::int64_t count, double m, double& sum_dy,
                   double& sum_dy_d) {
    double a[kLanes] = {}, b[kLanes] = {};
    std::int64_t i = 0;
    for (; i + kLanes <= count; i += kLanes)
        for (int j = 0; j < kLanes; ++j) {
            const double g = double(dy[i + j]);
            a[j] += g;
            b[j] += g * (double(x[i + j]) - m);
        }
    for (; i < count; ++i) {
        const double g = double(dy[i]);
        sum_dy += g;
        sum_dy_d += g * (double(x[i]) - m);
    }
    for (int j = 0; j < kLanes; ++j) {
        sum_dy += a[j];
        sum_dy_d += b[j];
    }
}

// The element count N * C * S, after checking the sizes and the pointers that must be there.
std::int64_t checked_count(ChannelNormShape sh, const void* x, const void* second,
                           const void* mean, const void* inv_std, bool batch_stats,
                           double divisor) {
    const std::string op = "channel_norm";
    if (sh.n < 0 || sh.c < 0 || sh.s < 0)
        throw std::invalid_argument(op + ": negative size");
    const std::int64_t total = checked_mul(checked_mul(sh.n, sh.c, "channel_norm"), sh.s,
                                           "channel_norm");
    if (total > 0 && (x == nullptr || second == nullptr))
        throw std::invalid_argument(op + ": null data pointer");
    if (sh.c > 0 && (mean == nullptr || inv_std == nullptr))
        throw std::invalid_argument(op + ": null statistics pointer");
    if (batch_stats && !(divisor > 0 && divisor < std::numeric_limits<double>::infinity()))
        throw std::invalid_argument(op + ": divisor must be positive and finite");
    return total;
}

// The statistics of a forward: computed from the batch into mean/var/inv_std (batch = true), or
// read from mean/inv_std (the outputs are then not written).
struct Stats {
    bool batch;
    const double* mean_in;
    const double* inv_std_in;
    double* mean;
    double* var;
    double* inv_std;
};

template <typename T>
void forward_impl(const T* x, ChannelNormShape sh, const T* weight, const T* bias,
                  Stats st, double eps, double divisor, T* y) {
    const bool batch_stats = st.batch;
    const std::int64_t total =
        batch_stats ? checked_count(sh, x, y, st.mean, st.inv_std, true, divisor)
                    : checked_count(sh, x, y, st.mean_in, st.inv_std_in, false, divisor);
    if (batch_stats && !(eps >= 0 && eps < std::numeric_limits<double>::infinity()))
        throw std::invalid_argument("channel_norm: eps must be finite and >= 0");
    if (batch_stats && sh.c > 0 && st.var == nullptr)
        throw std::invalid_argument("channel_norm: null statistics pointer");
    const std::int64_t plane = sh.s, image = checked_mul(sh.c, sh.s, "channel_norm"),
                       count = checked_mul(sh.n, sh.s, "channel_norm");  // (N = 0: not in total)
    // Statistics and normalisation read each element about three times.
    const int threads = threads_for(saturating_mul(total, 3));
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t ch = 0; ch < sh.c; ++ch) {
        const T* xc = x + ch * plane;
        double m, istd;
        if (batch_stats) {  // the mean first, then the squares about it: no cancellation
            double sum = 0;
            for (std::int64_t i = 0; i < sh.n; ++i) sum += sum_of(xc + i * image, plane);
            m = count > 0 ? sum / double(count) : std::numeric_limits<double>::quiet_NaN();
            double squares = 0;
            for (std::int64_t i = 0; i < sh.n; ++i)
                squares += squares_about(xc + i * image, plane, m);
            const double v = squares / divisor;
            istd = 1.0 / std::sqrt(v + eps);
            st.mean[ch] = m;
            st.var[ch] = v;
            st.inv_std[ch] = istd;
        } else {
            m = st.mean_in[ch];
            istd = st.inv_std_in[ch];
        }
        const double scale = istd * (weight != nullptr ? double(weight[ch]) : 1.0);
        const double shift = bias != nullptr ? double(bias[ch]) : 0.0;
        for (std::int64_t i = 0; i < sh.n; ++i) {
            const T* src = xc + i * image;
            T* dst = y + ch * plane + i * image;
            for (std::int64_t k = 0; k < plane; ++k)
                dst[k] = T((double(src[k]) - m) * scale + shift);
        }
    }
}

template <typename T>
void backward_impl(const T* x, const T* dy, ChannelNormShape sh, const double* mean,
                   const double* inv_std, const T* weight, bool batch_stats, double divisor,
                   T* dx, T* dweight, T* dbias) {
    const std::int64_t total = checked_count(sh, x, dy, mean, inv_std, batch_stats, divisor);
    if (sh.c > 0 && (dweight == nullptr || dbias == nullptr))
        throw std::invalid_argument("channel_norm: null dweight or dbias");
    const std::int64_t plane = sh.s, image = checked_mul(sh.c, sh.s, "channel_norm"),
                       count = checked_mul(sh.n, sh.s, "channel_norm");  // (N = 0: not in total)
    const int threads = threads_for(saturating_mul(total, dx != nullptr ? 5 : 2));
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t ch = 0; ch < sh.c; ++ch) {
        const std::int64_t first = ch * plane;
        const double m = mean[ch], istd = inv_std[ch];
        double sum_dy = 0, sum_dy_d = 0;
        for (std::int64_t i = 0; i < sh.n; ++i)
            gradient_sums(x + first + i * image, dy + first + i * image, plane, m, sum_dy,
                          sum_dy_d);
        const double dw = sum_dy_d * istd;  // sum(dy x_hat)
        dbias[ch] = T(sum_dy);
        dweight[ch] = T(dw);
        if (dx == nullptr) continue;
        const double k = istd * (weight != nullptr ? double(weight[ch]) : 1.0);
        // dx = k (dy - a - (x - m) c): a and c are 0 when the statistics were fixed
        const double a = batch_stats && count > 0 ? sum_dy / double(count) : 0.0;
        const double c = batch_stats ? dw * istd / divisor : 0.0;
        for (std::int64_t i = 0; i < sh.n; ++i) {
            const T* xs = x + first + i * image;
            const T* gs = dy + first + i * image;
            T* out = dx + first + i * image;
            for (std::int64_t j = 0; j < plane; ++j)
                out[j] = T(k * (double(gs[j]) - a - (double(xs[j]) - m) * c));
        }
    }
}

}  // namespace

// channel_norm_forward: x [N, C, S] -> y [N, C, S], mean, var, inv_std [C]
void channel_norm_forward(const float* x, ChannelNormShape shape, const float* weight,
                          const float* bias, double eps, double divisor, float* y, double* mean,
                          double* var, double* inv_std) {
    forward_impl(x, shape, weight, bias, Stats{true, nullptr, nullptr, mean, var, inv_std}, eps,
                 divisor, y);
}
void channel_norm_forward(const double* x, ChannelNormShape shape, const double* weight,
                          const double* bias, double eps, double divisor, double* y,
                          double* mean, double* var, double* inv_std) {
    forward_impl(x, shape, weight, bias, Stats{true, nullptr, nullptr, mean, var, inv_std}, eps,
                 divisor, y);
}

// channel_norm_apply: x [N, C, S], mean, inv_std [C] -> y [N, C, S]
void channel_norm_apply(const float* x, ChannelNormShape shape, const double* mean,
                        const double* inv_std, const float* weight, const float* bias, float* y) {
    forward_impl(x, shape, weight, bias, Stats{false, mean, inv_std, nullptr, nullptr, nullptr},
                 0.0, 1.0, y);
}
void channel_norm_apply(const double* x, ChannelNormShape shape, const double* mean,
                        const double* inv_std, const double* weight, const double* bias,
                        double* y) {
    forward_impl(x, shape, weight, bias, Stats{false, mean, inv_std, nullptr, nullptr, nullptr},
                 0.0, 1.0, y);
}

// channel_norm_backward: x, dy [N, C, S] -> dx [N, C, S], dweight, dbias [C]
void channel_norm_backward(const float* x, const float* dy, ChannelNormShape shape,
                           const double* mean, const double* inv_std, const float* weight,
                           bool batch_stats, double divisor, float* dx, float* dweight,
                           float* dbias) {
    backward_impl(x, dy, shape, mean, inv_std, weight, batch_stats, divisor, dx, dweight, dbias);
}
void channel_norm_backward(const double* x, const double* dy, ChannelNormShape shape,
                           const double* mean, const double* inv_std, const double* weight,
                           bool batch_stats, double divisor, double* dx, double* dweight,
                           double* dbias) {
    backward_impl(x, dy, shape, mean, inv_std, weight, batch_stats, divisor, dx, dweight, dbias);
}

}  // namespace sg
