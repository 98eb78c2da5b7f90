/* Checks that the header and library a consumer found agree on the version, and calls into the
 * CUDA backend so that a static link pulls in libtinfer.a's CUDA objects (and so needs what they
 * need: the CUDA runtime and the C++ runtime). Prints one line the install check reads. */
#include <stdio.h>

#include "tinfer/tinfer.h"

int main(void) {
    if (tinfer_version_number() != TINFER_VERSION_NUMBER) {
        fprintf(stderr, "header %d, library %d\n", TINFER_VERSION_NUMBER, tinfer_version_number());
        return 1;
    }
    printf("tinfer %s, CUDA backend %s, %d CUDA devices\n", tinfer_version_string(),
           tinfer_has_cuda() ? "built in" : "absent", tinfer_cuda_device_count());
    return 0;
}
