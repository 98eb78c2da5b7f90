/* CPUID leaves 1 and 7 and the XCR0 register, decoded once. */
#include "core/cpu_features.h"

#include <pthread.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0 through the raw opcode, so this file needs no -mxsave. */
static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static void detect(tf_cpu_features *f) {
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return;
    const bool osxsave = ecx & (1u << 27);
    const bool fma = ecx & (1u << 12), f16c = ecx & (1u << 29), avx = ecx & (1u << 28);
    if (!osxsave || !avx) return;
    const uint64_t xcr0 = read_xcr0();
    const bool ymm_saved = (xcr0 & 0x6) == 0x6;   /* SSE and AVX state */
    const bool zmm_saved = (xcr0 & 0xE6) == 0xE6; /* plus opmask, ZMM_Hi256, Hi16_ZMM */
    if (!ymm_saved || __get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    f->avx2 = ebx & (1u << 5);
    f->fma = fma;
    f->f16c = f16c;
    if (!zmm_saved) return;
    f->avx512f = ebx & (1u << 16);
    f->avx512bw = ebx & (1u << 30);
    f->avx512vl = ebx & (1u << 31);
    f->avx512_vnni = ecx & (1u << 11);
    unsigned max_sub = eax;
    if (max_sub >= 1) {
        __cpuid_count(7, 1, eax, ebx, ecx, edx);
        f->avx512_bf16 = eax & (1u << 5);
    }
}
#else
static void detect(tf_cpu_features *f) { (void)f; }
#endif

static tf_cpu_features features;
static pthread_once_t features_once = PTHREAD_ONCE_INIT;

static void detect_once(void) { detect(&features); }

const tf_cpu_features *tf_cpu_features_get(void) {
    pthread_once(&features_once, detect_once);
    return &features;
}
