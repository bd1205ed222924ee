/* test_report.c - unit tests of what echoconf renders from replay results without
 * running anything: the edge profile in words (every diagnosis of the vocabulary has
 * a phrase, details fill it, unknown names still read), and the JUnit writer (one
 * testcase per case, failure message = the diagnosis line, XML escaped).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diagnoses.h"
#include "ec_test.h"
#include "echoconf_report.h"

TEST(every_diagnosis_of_the_vocabulary_has_a_phrase)
{
    char buf[256];
    for (size_t i = 0; i < ec_diagnosis_count; i++) {
        const char *name = ec_diagnosis_table[i].name;
        ec_edge_phrase(name, buf, sizeof buf);
        ASSERT(strlen(buf) > 8);
        /* A phrase says what the server does; only a name unknown to the table would
         * be shown as "shows <name>". */
        ASSERT(strncmp(buf, "shows ", 6) != 0);
    }
}

TEST(phrases_take_the_detail_of_a_suffixed_diagnosis)
{
    char buf[256];
    ASSERT_STR_EQ(ec_edge_phrase("capacity-limit:63", buf, sizeof buf), "holds at most 63 clients");
    ASSERT_STR_EQ(ec_edge_phrase("capacity-limit:1", buf, sizeof buf), "holds at most 1 client");
    ASSERT_STR_EQ(ec_edge_phrase("capacity-limit", buf, sizeof buf),
                  "holds fewer clients than asked for");
    ASSERT_STR_EQ(ec_edge_phrase("serialized-clients", buf, sizeof buf),
                  "serves one client at a time");
    ASSERT_STR_EQ(ec_edge_phrase("died-after-reset", buf, sizeof buf),
                  "a reset from one client kills the server");
    ASSERT_STR_EQ(ec_edge_phrase("crash:SIGSEGV", buf, sizeof buf), "crashes (killed by SIGSEGV)");
    ASSERT_STR_EQ(ec_edge_phrase("crash", buf, sizeof buf), "crashes (killed by a signal)");
}

TEST(an_unknown_diagnosis_still_reads)
{
    char buf[256];
    ASSERT_STR_EQ(ec_edge_phrase("teleported-bytes:3", buf, sizeof buf),
                  "shows teleported-bytes:3");
}

/* A one-row result set of three cells: a pass, a failure, a declared deviation. */
static cJSON *cell(const char *json)
{
    cJSON *j = cJSON_Parse(json);
    ASSERT(j != NULL);
    return j;
}

TEST(edge_profile_gathers_phrases_with_their_cases)
{
    struct ec_rs_row row = {.id = "srv", .family = "server"};
    char cols[4][64] = {"a", "b", "c", "d"};
    cJSON *cells[4] = {
        cell("{\"verdict\": \"PASS\"}"),
        cell("{\"verdict\": \"FAIL\", \"diagnosis\": \"serialized-clients\"}"),
        cell("{\"verdict\": \"XFAIL\", \"diagnosis\": \"capacity-limit:2\"}"),
        cell("{\"verdict\": \"FAIL\", \"diagnosis\": \"serialized-clients\"}"),
    };
    struct ec_result_set rs = {.title = "t", .rows = &row, .nrows = 1, .cols = cols, .ncols = 4,
                               .cells = cells};
    char *lines[8];
    size_t n = ec_edge_profile(&rs, 0, lines, 8);
    ASSERT_EQ(n, 2);
    ASSERT_STR_EQ(lines[0], "serves one client at a time (b, d)");
    ASSERT_STR_EQ(lines[1], "holds at most 2 clients (c)");
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    for (int i = 0; i < 4; i++)
        cJSON_Delete(cells[i]);
}

TEST(junit_has_one_testcase_per_case_and_the_diagnosis_as_failure_message)
{
    struct ec_rs_row row = {.id = "srv", .family = "server"};
    char cols[3][64] = {"ok", "bad", "odd<&>"};
    cJSON *cells[3] = {
        cell("{\"verdict\": \"PASS\", \"duration_ms\": 12}"),
        cell("{\"verdict\": \"FAIL\", \"diagnosis\": \"lost-after-half-close\", "
             "\"expected\": \"4096 bytes\", \"actual\": \"0 bytes, then FIN\"}"),
        cell("{\"verdict\": \"UNSUPPORTED\", \"reason\": \"needs a \\\"server\\\"\"}"),
    };
    struct ec_result_set rs = {.title = "t", .rows = &row, .nrows = 1, .cols = cols, .ncols = 3,
                               .cells = cells};
    char path[] = "/tmp/ec-test-junit.XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    char err[200];
    ASSERT_EQ(ec_write_junit(&rs, path, err, sizeof err), 0);
    FILE *f = fopen(path, "r");
    ASSERT(f != NULL);
    char text[8192];
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = 0;
    fclose(f);
    unlink(path);
    ASSERT(strstr(text, "tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\"") != NULL);
    ASSERT(strstr(text, "<failure message=\"FAIL lost-after-half-close\"") != NULL);
    ASSERT(strstr(text, "name=\"odd&lt;&amp;&gt;\"") != NULL);
    ASSERT(strstr(text, "<skipped message=\"needs a &quot;server&quot;\"/>") != NULL);
    int cases = 0;
    for (const char *p = strstr(text, "<testcase "); p; p = strstr(p + 1, "<testcase "))
        cases++;
    ASSERT_EQ(cases, 3);
    for (int i = 0; i < 3; i++)
        cJSON_Delete(cells[i]);
}

TEST(may_cells_are_declared_outcomes_or_passes)
{
    cJSON *held = cell("{\"verdict\": \"MAY\", \"diagnosis\": \"stall\"}");
    cJSON *passed = cell("{\"verdict\": \"MAY\"}");
    ASSERT_EQ(ec_rs_cell_class(held), EC_RS_DECLARED);
    ASSERT_EQ(ec_rs_cell_class(passed), EC_RS_PASS);
    ASSERT_EQ(ec_rs_cell_class(NULL), EC_RS_BAD);
    struct ec_rs_row row = {.id = "srv", .family = "server"};
    char cols[2][64] = {"a", "b"};
    cJSON *cells[2] = {held, passed};
    struct ec_result_set rs = {.title = "t", .rows = &row, .nrows = 1, .cols = cols, .ncols = 2,
                               .cells = cells};
    char *lines[4];
    ASSERT_EQ(ec_edge_profile(&rs, 0, lines, 4), 1);
    ASSERT_STR_EQ(lines[0], "stalls: stops answering before the work is done (a)");
    free(lines[0]);
    cJSON_Delete(held);
    cJSON_Delete(passed);
}

EC_TEST_MAIN(EC_TEST_ENTRY(may_cells_are_declared_outcomes_or_passes),
             EC_TEST_ENTRY(every_diagnosis_of_the_vocabulary_has_a_phrase),
             EC_TEST_ENTRY(phrases_take_the_detail_of_a_suffixed_diagnosis),
             EC_TEST_ENTRY(an_unknown_diagnosis_still_reads),
             EC_TEST_ENTRY(edge_profile_gathers_phrases_with_their_cases),
             EC_TEST_ENTRY(junit_has_one_testcase_per_case_and_the_diagnosis_as_failure_message))
