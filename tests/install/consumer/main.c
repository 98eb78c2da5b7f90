/* Checks that the header and library a consumer found agree on the version. */
#include <stdio.h>

#include "tinfer/tinfer.h"

int main(void) {
    if (tinfer_version_number() != TINFER_VERSION_NUMBER) {
        fprintf(stderr, "header %d, library %d\n", TINFER_VERSION_NUMBER, tinfer_version_number());
        return 1;
    }
    printf("tinfer %s\n", tinfer_version_string());
    return 0;
}
