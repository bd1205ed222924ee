/* expect.c - ec-expect, the test helper of the clients' tests: runs a command, and
 * passes when it exits with the expected status and its output matches a POSIX
 * extended regular expression (e.g. a client that must fail with exit 1 and print
 * "diagnosis: truncated-echo"). Exit 77 of the command is passed on (CTest's skip).
 *   usage: ec-expect [--stderr] STATUS REGEX -- COMMAND [ARG...]
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_OUTPUT (4 * 1024 * 1024)

int main(int argc, char **argv)
{
    int i = 1, on_stderr = 0;
    if (i < argc && strcmp(argv[i], "--stderr") == 0)
        on_stderr = 1, i++;
    if (argc - i < 4 || strcmp(argv[i + 2], "--") != 0) {
        fprintf(stderr, "usage: ec-expect [--stderr] STATUS REGEX -- COMMAND [ARG...]\n");
        return 2;
    }
    char *end;
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
    if (waitpid(pid, &st, 0) < 0) {
        perror("ec-expect: waitpid");
        return 2;
    }
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
