/* Forced into lib/backend/cpu/cpu_kernels.c by the fuzz build only: see cpu_supports.c. */
int fuzz_cpu_supports(const char *feature);
#define __builtin_cpu_supports(feature) fuzz_cpu_supports(feature)
