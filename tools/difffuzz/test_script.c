/* test_script.c - unit tests of the scripts of `echoconf fuzz` (tools/difffuzz/script.c):
 * every shape renders fixtures the loader accepts, generation is deterministic, script
 * n of a seed has the shape asked for, and the shrinker's reductions always end (no two
 * candidates undo each other) at the smallest script.
 */
#include <stdlib.h>
#include <string.h>

#include "ec_test.h"
#include "fixture.h"
#include "script.h"

#define SEEDS 150

static char *render(const struct ec_fz_script *s, int *nsteps)
{
    return ec_fz_render(s, "fuzz-unit", "MUST echo (unit test)", NULL, nsteps);
}

/* Every shape, many seeds: the rendering is a fixture the loader accepts. */
TEST(every_shape_renders_a_valid_fixture)
{
    for (int shape = 0; shape < EC_FZ_NSHAPES; shape++)
        for (uint64_t seed = 1; seed <= SEEDS; seed++) {
            struct ec_fz_script s;
            ec_fz_generate(seed * 7919u, shape, &s);
            ASSERT_EQ(s.shape, shape);
            ASSERT(s.nconns >= 1 && s.nconns <= EC_FZ_MAX_CONNS);
            int n = 0;
            char *txt = render(&s, &n);
            ASSERT(txt != NULL);
            ASSERT_GE(n, s.nconns); /* a connect each at least */
            struct ec_fixture fx;
            char err[512] = "";
            int rc = ec_fixture_parse("fuzz-unit.json", txt, strlen(txt), &fx, err, sizeof err);
            if (rc != 0)
                FAIL("shape %s, seed %llu: the loader refused the script: %s\n%s",
                     ec_fz_shape_name(shape), (unsigned long long)seed, err, txt);
            ec_fixture_free(&fx);
            free(txt);
        }
}

/* The same seed and shape give the same fixture; other seeds other ones (every shape
 * draws something: sizes, plans, ends). */
TEST(generation_is_deterministic)
{
    for (int shape = 0; shape < EC_FZ_NSHAPES; shape++) {
        struct ec_fz_script a, b, c;
        ec_fz_generate(42, shape, &a);
        ec_fz_generate(42, shape, &b);
        char *ta = render(&a, NULL), *tb = render(&b, NULL);
        ASSERT_STR_EQ(ta, tb);
        int differ = 0;
        for (uint64_t seed = 43; seed < 63; seed++) {
            ec_fz_generate(seed, shape, &c);
            char *tc = render(&c, NULL);
            differ += strcmp(ta, tc) != 0;
            free(tc);
        }
        if (differ == 0)
            FAIL("shape %s: 20 other seeds gave the same script", ec_fz_shape_name(shape));
        free(ta);
        free(tb);
    }
}

/* A shrinker whose oracle says "still fails" to every candidate takes every reduction:
 * it must reach a script no candidate changes (the reductions are monotone: none undoes
 * another), and that script is the smallest, one connection that connects and ends. */
TEST(reductions_end_at_the_smallest_script)
{
    for (int shape = 0; shape < EC_FZ_NSHAPES; shape++)
        for (uint64_t seed = 1; seed <= SEEDS; seed++) {
            struct ec_fz_script s, cand;
            ec_fz_generate(seed * 104729u, shape, &s);
            int taken = 0, progress = 1;
            while (progress) {
                progress = 0;
                for (int i = 0; ec_fz_reduce(&s, i, &cand); i++) {
                    if (memcmp(&cand, &s, sizeof s) == 0)
                        continue;
                    s = cand;
                    progress = 1;
                    if (++taken > 2000)
                        FAIL("shape %s, seed %llu: the reductions cycle (2000 taken)",
                             ec_fz_shape_name(shape), (unsigned long long)seed);
                }
            }
            int n = 0;
            free(render(&s, &n));
            ASSERT_EQ(s.nconns, 1);
            ASSERT_EQ(s.conns[0].nacts, 0);
            ASSERT_EQ(s.framed, 0);
            ASSERT_LE(n, 2);
        }
}

/* The halves of a connection's actions come before single actions, so that a long
 * connection shrinks in a few steps: candidate 0 of a one-connection script with 6
 * actions keeps its last 3. */
TEST(halves_come_first)
{
    struct ec_fz_script s, cand;
    memset(&s, 0, sizeof s);
    s.nconns = 1;
    s.conns[0].nacts = 6;
    for (int k = 0; k < 6; k++) {
        s.conns[0].acts[k].kind = FZ_PAUSE;
        s.conns[0].acts[k].ms = k + 1;
    }
    ASSERT(ec_fz_reduce(&s, 0, &cand));
    ASSERT_EQ(cand.conns[0].nacts, 3);
    ASSERT_EQ(cand.conns[0].acts[0].ms, 4);
    ASSERT(ec_fz_reduce(&s, 1, &cand));
    ASSERT_EQ(cand.conns[0].nacts, 3);
    ASSERT_EQ(cand.conns[0].acts[0].ms, 1);
}

EC_TEST_MAIN(EC_TEST_ENTRY(every_shape_renders_a_valid_fixture),
             EC_TEST_ENTRY(generation_is_deterministic),
             EC_TEST_ENTRY(reductions_end_at_the_smallest_script), EC_TEST_ENTRY(halves_come_first))
