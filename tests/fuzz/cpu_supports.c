/* clang 14 does not know __builtin_cpu_supports("f16c"), which lib/backend/cpu/cpu_kernels.c
 * asks; the fuzz build compiles that file with the builtin renamed to this function
 * (tests/fuzz/CMakeLists.txt), which reads F16C from CPUID and asks clang for the rest. */
#include <cpuid.h>
#include <string.h>

int fuzz_cpu_supports(const char *feature);

int fuzz_cpu_supports(const char *feature) {
    if (strcmp(feature, "f16c") == 0) {
        unsigned eax, ebx, ecx, edx;
        return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
    }
    if (strcmp(feature, "avx2") == 0) return __builtin_cpu_supports("avx2");
    if (strcmp(feature, "fma") == 0) return __builtin_cpu_supports("fma");
    return 0;
}
