/* fuzz_common.h - what every libFuzzer target of fuzz/ shares: an oracle check that
 * aborts with the failed condition (libFuzzer keeps the input as a crash), and the
 * input as a NUL-terminated copy.
 */
#ifndef EC_FUZZ_COMMON_H
#define EC_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Aborts with file:line and the condition when cond is false. */
#define EC_FUZZ_CHECK(cond)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: oracle failed: %s\n", __FILE__, __LINE__, #cond);              \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A malloc'ed copy of data[0..size) with a NUL after it (NULL when out of memory). */
static inline char *ec_fuzz_text(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (t != NULL) {
        if (size > 0)
            memcpy(t, data, size);
        t[size] = '\0';
    }
    return t;
}

#endif
