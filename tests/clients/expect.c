/* expect.c - ec-expect, the test helper of the clients' tests: runs a command, and
 * passes when it exits with the expected status and its output matches a POSIX
 * extended regular expression (e.g. a client that must fail with exit 1 and print
 * "diagnosis: truncated-echo"). Exit 77 of the command is passed on (CTest's skip).
 * --within MS also requires the command to end within MS milliseconds (scaled by
 * ECHOCONF_TIMEOUT_MULTIPLIER; it is killed at twice that), and --max-rss-kib N that
 * its peak resident memory (getrusage's ru_maxrss, Linux: KiB) stays within N.
 *   usage: ec-expect [--stderr] [--within MS] [--max-rss-kib N] STATUS REGEX -- COMMAND [ARG...]
 */
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_OUTPUT (4 * 1024 * 1024)

/* The process that kills an overrunning command (--within), or 0. */
static pid_t pid_killer;

int main(int argc, char **argv)
{
    int i = 1, on_stderr = 0;
    long within_ms = 0, max_rss_kib = 0;
    char *end;
    for (;;) {
        if (i < argc && strcmp(argv[i], "--stderr") == 0) {
            on_stderr = 1, i++;
        } else if (i + 1 < argc && strcmp(argv[i], "--within") == 0) {
            within_ms = strtol(argv[i + 1], &end, 10);
            if (*end || within_ms <= 0) {
                fprintf(stderr, "ec-expect: --within %s: expected milliseconds > 0\n", argv[i + 1]);
                return 2;
            }
            i += 2;
        } else if (i + 1 < argc && strcmp(argv[i], "--max-rss-kib") == 0) {
            max_rss_kib = strtol(argv[i + 1], &end, 10);
            if (*end || max_rss_kib <= 0) {
                fprintf(stderr, "ec-expect: --max-rss-kib %s: expected KiB > 0\n", argv[i + 1]);
                return 2;
            }
            i += 2;
        } else {
            break;
        }
    }
    if (argc - i < 4 || strcmp(argv[i + 2], "--") != 0) {
        fprintf(stderr, "usage: ec-expect [--stderr] [--within MS] [--max-rss-kib N] STATUS "
                        "REGEX -- COMMAND [ARG...]\n");
        return 2;
    }
    /* The limit scales like every deadline of the command itself. */
    const char *mult_env = getenv("ECHOCONF_TIMEOUT_MULTIPLIER");
    double mult = mult_env && *mult_env ? strtod(mult_env, NULL) : 1.0;
    if (!(mult > 0))
        mult = 1.0;
    long limit_ms = (long)((double)within_ms * mult);
    long want = strtol(argv[i], &end, 10);
    if (*end || want < 0 || want > 255) {
        fprintf(stderr, "ec-expect: STATUS %s: expected 0..255\n", argv[i]);
        return 2;
    }
    regex_t re;
    if (regcomp(&re, argv[i + 1], REG_EXTENDED | REG_NOSUB) != 0) {
        fprintf(stderr, "ec-expect: REGEX %s: not a valid extended regular expression\n",
                argv[i + 1]);
        return 2;
    }
    char **cmd = argv + i + 3;
    int p[2];
    if (pipe(p) < 0) {
        perror("ec-expect: pipe");
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("ec-expect: fork");
        return 2;
    }
    if (pid == 0) {
        dup2(p[1], on_stderr ? 2 : 1);
        close(p[0]);
        close(p[1]);
        execvp(cmd[0], cmd);
        fprintf(stderr, "ec-expect: cannot run %s\n", cmd[0]);
        _exit(127);
    }
    close(p[1]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (within_ms > 0) {
        /* A backstop: a command that overruns twice its limit is killed, so the test
         * ends and says so instead of waiting for CTest's timeout. */
        pid_t killer = fork();
        if (killer == 0) {
            struct timespec d = {.tv_sec = 2 * limit_ms / 1000,
                                 .tv_nsec = 2 * limit_ms % 1000 * 1000000L};
            nanosleep(&d, NULL);
            kill(pid, SIGKILL);
            _exit(0);
        }
        if (killer > 0)
            setpgid(killer, 0);
        signal(SIGCHLD, SIG_DFL);
        pid_killer = killer;
    }
    char *out = malloc(MAX_OUTPUT + 1);
    if (!out)
        return 2;
    size_t n = 0;
    ssize_t k;
    /* The output is echoed as it comes, so the test log shows the whole run. */
    while ((k = read(p[0], out + n, MAX_OUTPUT - n)) > 0) {
        fwrite(out + n, 1, (size_t)k, on_stderr ? stderr : stdout);
        n += (size_t)k;
        if (n == MAX_OUTPUT)
            break;
    }
    out[n] = 0;
    close(p[0]);
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) < 0) {
        perror("ec-expect: wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long took_ms = (long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (pid_killer > 0) {
        kill(pid_killer, SIGKILL);
        waitpid(pid_killer, NULL, 0);
    }
    if (within_ms > 0 && took_ms > limit_ms) {
        fprintf(stderr, "ec-expect: %s took %ld ms, more than its %ld ms (%ld ms x%g)\n", cmd[0],
                took_ms, limit_ms, within_ms, mult);
        return 1;
    }
    if (max_rss_kib > 0 && ru.ru_maxrss > max_rss_kib) {
        fprintf(stderr, "ec-expect: %s peaked at %ld KiB of resident memory, more than %ld KiB\n",
                cmd[0], ru.ru_maxrss, max_rss_kib);
        return 1;
    }
    if (within_ms > 0 || max_rss_kib > 0)
        printf("ec-expect: ended in %ld ms (limit %ld), peak resident memory %ld KiB (limit %ld)\n",
               took_ms, limit_ms, ru.ru_maxrss, max_rss_kib);
    if (!WIFEXITED(st)) {
        fprintf(stderr, "ec-expect: %s died by signal %d\n", cmd[0], WTERMSIG(st));
        return 1;
    }
    int got = WEXITSTATUS(st);
    if (got == 77 && want != 77)
        return 77;
    int match = regexec(&re, out, 0, NULL, 0) == 0;
    regfree(&re);
    free(out);
    if (got != want || !match) {
        fprintf(stderr, "ec-expect: wanted exit %ld and %s matching /%s/; got exit %d%s\n", want,
                on_stderr ? "stderr" : "stdout", argv[i + 1], got, match ? "" : " and no match");
        return 1;
    }
    printf("ec-expect: exit %d and /%s/ as expected\n", got, argv[i + 1]);
    return 0;
}
