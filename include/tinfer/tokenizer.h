/* libtinfer tokenizer API: included by tinfer/tinfer.h; do not include it alone. */
#ifndef TINFER_TOKENIZER_H
#define TINFER_TOKENIZER_H
#ifndef TINFER_TINFER_H
#error "include tinfer/tinfer.h, not tinfer/tokenizer.h"
#endif

#endif
