/* RoPE scaling from metadata: what llama.cpp's converter computes for Llama 3 (its
 * generate_extra_tensors) and what its graph does for linear scaling. */
#include "model/rope_scaling.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static bool read_float(const tinfer_model *model, const char *suffix, double *out) {
    char key[160];
    snprintf(key, sizeof key, "%s.rope.scaling.%s", model->hparams.arch_name, suffix);
    return tf_meta_get_f64(&model->meta, key, out) && isfinite(*out) && *out > 0;
}

/* Llama 3: long wavelengths are divided by factor, short ones kept, the band between blended. */
static tinfer_status llama3_factors(const tinfer_model *model, tf_rope_scaling *out) {
    const tf_hparams *hp = &model->hparams;
    double factor, low, high, original;
    if (!read_float(model, "factor", &factor) || !read_float(model, "low_freq_factor", &low) ||
        !read_float(model, "high_freq_factor", &high) ||
        !read_float(model, "original_context_length", &original) || high <= low)
        return tf_error(TINFER_E_FORMAT,
                        "%s: llama3 RoPE scaling needs factor, low_freq_factor < "
                        "high_freq_factor and original_context_length",
                        hp->arch_name);
    const uint32_t n = hp->head_dim / 2;
    out->freq_factors = calloc(n, sizeof(float));
    if (!out->freq_factors) return tf_error(TINFER_E_NOMEM, "out of memory for RoPE factors");
    const double low_wavelen = original / low, high_wavelen = original / high;
    for (uint32_t i = 0; i < n; i++) {
        const double freq = 1.0 / pow(hp->rope_freq_base, 2.0 * i / hp->head_dim);
        const double wavelen = 2 * M_PI / freq;
        double divisor = 1.0;
        if (wavelen > low_wavelen) {
            divisor = factor;
        } else if (wavelen >= high_wavelen) {
            const double smooth = (original / wavelen - low) / (high - low);
            divisor = 1.0 / ((1 - smooth) / factor + smooth);
        }
        out->freq_factors[i] = (float)divisor;
    }
    return TINFER_OK;
}

tinfer_status tf_rope_scaling_read(const tinfer_model *model, bool need_factors,
                                   tf_rope_scaling *out) {
    *out = (tf_rope_scaling){.freq_scale = 1.0f};
    char key[160];
    snprintf(key, sizeof key, "%s.rope.scaling.type", model->hparams.arch_name);
    const char *type = tf_meta_get_str(&model->meta, key);
    if (!type || !strcmp(type, "none") || !strcmp(type, "default")) return TINFER_OK;
    if (!strcmp(type, "linear")) {
        double factor;
        if (!read_float(model, "factor", &factor))
            return tf_error(TINFER_E_FORMAT, "%s: linear RoPE scaling without a positive factor",
                            model->hparams.arch_name);
        out->freq_scale = (float)(1.0 / factor);
        return TINFER_OK;
    }
    if (!strcmp(type, "llama3")) return need_factors ? llama3_factors(model, out) : TINFER_OK;
    return tf_error(TINFER_E_UNSUPPORTED,
                    "%s: RoPE scaling '%s' is not supported (linear and "
                    "llama3 are)",
                    model->hparams.arch_name, type);
}

void tf_rope_scaling_free(tf_rope_scaling *scaling) {
    free(scaling->freq_factors);
    *scaling = (tf_rope_scaling){0};
}
