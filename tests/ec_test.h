/* ec_test.h - the tiny test framework of echoconf's C tests (in the spirit of libuv's
 * test/task.h and test/test-list.h).
 *
 * A test program defines functions with TEST(name), lists them in a table with
 * EC_TEST_MAIN(EC_TEST_ENTRY(name), ...), and runs the one named in argv[1]. CMake
 * reads the TEST(name) lines and registers one CTest entry per function. An assertion
 * prints file:line and both values and exits 1; SKIP(...) exits 77 ("cannot run
 * here"). Random tests draw from ec_test_rand(), seeded by ECHOCONF_SEED when set,
 * and a failure prints the seed that reproduces it.
 */
#ifndef EC_TEST_H
#define EC_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EC_TEST_SKIP_CODE 77

#define TEST(name) static void test_##name(void)

struct ec_test_entry {
    const char *name;
    void (*fn)(void);
};

#define EC_TEST_ENTRY(name)                                                                        \
    {                                                                                              \
#name, test_##name                                                                         \
    }

/* The seed of this run, and whether a test drew from it (to print it on failure). */
static uint64_t ec_test_seed_value = 0x2545f4914f6cdd1dULL;
static int ec_test_seed_used = 0;

static inline void ec_test_fail_footer(void)
{
    if (ec_test_seed_used)
        fprintf(stderr, "  seed: %llu (rerun with ECHOCONF_SEED=%llu)\n",
                (unsigned long long)ec_test_seed_value, (unsigned long long)ec_test_seed_value);
    fflush(stderr);
}

#define EC_TEST_FAIL_AT(file, line, ...)                                                           \
    do {                                                                                           \
        fprintf(stderr, "FAIL %s:%d: ", file, line);                                               \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        ec_test_fail_footer();                                                                     \
        exit(1);                                                                                   \
    } while (0)

#define FAIL(...) EC_TEST_FAIL_AT(__FILE__, __LINE__, __VA_ARGS__)

#define SKIP(...)                                                                                  \
    do {                                                                                           \
        printf("SKIP: ");                                                                          \
        printf(__VA_ARGS__);                                                                       \
        printf("\n");                                                                              \
        fflush(stdout);                                                                            \
        exit(EC_TEST_SKIP_CODE);                                                                   \
    } while (0)

#define ASSERT(expr)                                                                               \
    do {                                                                                           \
        if (!(expr))                                                                               \
            FAIL("assertion failed: %s", #expr);                                                   \
    } while (0)

/* Integer comparisons: both sides are shown as signed 64-bit values. */
#define EC_ASSERT_CMP(a, op, b)                                                                    \
    do {                                                                                           \
        long long ec_a_ = (long long)(a), ec_b_ = (long long)(b);                                  \
        if (!(ec_a_ op ec_b_))                                                                     \
            FAIL("expected %s %s %s, got %lld %s %lld", #a, #op, #b, ec_a_, #op, ec_b_);           \
    } while (0)

#define ASSERT_EQ(a, b) EC_ASSERT_CMP(a, ==, b)
#define ASSERT_NE(a, b) EC_ASSERT_CMP(a, !=, b)
#define ASSERT_LT(a, b) EC_ASSERT_CMP(a, <, b)
#define ASSERT_LE(a, b) EC_ASSERT_CMP(a, <=, b)
#define ASSERT_GT(a, b) EC_ASSERT_CMP(a, >, b)
#define ASSERT_GE(a, b) EC_ASSERT_CMP(a, >=, b)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *ec_a_ = (a), *ec_b_ = (b);                                                     \
        if (strcmp(ec_a_, ec_b_) != 0)                                                             \
            FAIL("expected %s == %s, got \"%s\" and \"%s\"", #a, #b, ec_a_, ec_b_);                \
    } while (0)

/* Prints up to 16 bytes of p on each side of off, as hex, with a caret at off. */
static inline void ec_test_hexdump(const char *label, const void *p, size_t len, size_t off)
{
    const unsigned char *b = p;
    size_t from = off >= 16 ? off - 16 : 0, to = off + 16 < len ? off + 16 : len;
    fprintf(stderr, "  %-8s @%zu:", label, from);
    for (size_t i = from; i < to; i++)
        fprintf(stderr, i == off ? " [%02x]" : " %02x", b[i]);
    fprintf(stderr, "\n");
}

static inline void ec_test_mem_eq(const char *file, int line, const char *ea, const char *eb,
                                  const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            fprintf(stderr, "FAIL %s:%d: %s and %s differ at offset %zu of %zu\n", file, line, ea,
                    eb, i, n);
            ec_test_hexdump(ea, a, n, i);
            ec_test_hexdump(eb, b, n, i);
            ec_test_fail_footer();
            exit(1);
        }
    }
}

#define ASSERT_MEM_EQ(a, b, n) ec_test_mem_eq(__FILE__, __LINE__, #a, #b, (a), (b), (n))

/* The multiplier when the environment does not set one (the build's default). */
#ifndef EC_TEST_DEFAULT_MULTIPLIER
#define EC_TEST_DEFAULT_MULTIPLIER "1"
#endif

/* A deadline in milliseconds scaled by ECHOCONF_TIMEOUT_MULTIPLIER (default 1), for
 * slow machines and valgrind. */
static inline int ec_test_timeout_ms(int base_ms)
{
    const char *m = getenv("ECHOCONF_TIMEOUT_MULTIPLIER");
    if (m == NULL || *m == '\0')
        m = EC_TEST_DEFAULT_MULTIPLIER;
    double k = atof(m);
    if (k < 1.0)
        k = 1.0;
    return (int)(base_ms * k);
}

/* A generator state seeded from the run's seed, mixed with stream so that threads get
 * independent, reproducible sequences. */
static inline uint64_t ec_test_rng(uint64_t stream)
{
    ec_test_seed_used = 1;
    uint64_t x = ec_test_seed_value ^ (stream * 0x9e3779b97f4a7c15ULL);
    return x != 0 ? x : 1;
}

/* xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift
 * generators"): small, fast and good enough to pick chunk sizes. */
static inline uint64_t ec_test_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* A uniform value in lo..hi (inclusive). */
static inline size_t ec_test_range(uint64_t *state, size_t lo, size_t hi)
{
    return lo + (size_t)(ec_test_rand(state) % (uint64_t)(hi - lo + 1));
}

static inline int ec_test_run(int argc, char **argv, const struct ec_test_entry *t, size_t count)
{
    const char *seed = getenv("ECHOCONF_SEED");
    if (seed != NULL && *seed != '\0')
        ec_test_seed_value = strtoull(seed, NULL, 0);
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < count; i++)
            printf("%s\n", t[i].name);
        return 0;
    }
    if (argc == 2) {
        for (size_t i = 0; i < count; i++) {
            if (strcmp(argv[1], t[i].name) == 0) {
                t[i].fn();
                printf("ok %s\n", t[i].name);
                return 0;
            }
        }
    }
    fprintf(stderr, "usage: %s <test> | --list\nunknown or missing test%s%s; tests:\n", argv[0],
            argc >= 2 ? " " : "", argc >= 2 ? argv[1] : "");
    for (size_t i = 0; i < count; i++)
        fprintf(stderr, "  %s\n", t[i].name);
    return 2;
}

#define EC_TEST_MAIN(...)                                                                          \
    static const struct ec_test_entry ec_tests_[] = {__VA_ARGS__};                                 \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        return ec_test_run(argc, argv, ec_tests_, sizeof ec_tests_ / sizeof ec_tests_[0]);         \
    }

#endif
