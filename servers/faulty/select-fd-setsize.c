/* select-fd-setsize.c - faulty-select-fd-setsize: a select() server whose FD_SETSIZE
 * check is off by one.
 *
 * Loop: ec_select_loop (base/level.c: a read set and a write set rebuilt every round,
 * after textbook 04-02), correct but for ONE bug, in its admit hook. On Linux an
 * fd_set is a bitmap of FD_SETSIZE (1024) bits indexed by descriptor number, so a
 * client whose descriptor is FD_SETSIZE or more must be refused (select(2): FD_SET of
 * such a descriptor is undefined behaviour); the loop's own check does that, and this
 * hook replaces it.
 *   Bug: admit_off_by_one() refuses a client whose descriptor is greater than
 *     FD_SETSIZE (the line marked BUG) instead of greater or equal, so descriptor 1024
 *     is passed to FD_SET, one bit past the 1024-bit set. servers/faulty/CMakeLists.txt
 *     builds this server with _FORTIFY_SOURCE=2 and -O2, so glibc checks every FD_SET
 *     and aborts with "bit out of range 0 - FD_SETSIZE on fd_set" (notes 4, L9);
 *     without it the write would land past the set on the stack.
 *   A correct server: refuses every descriptor >= FD_SETSIZE (logged refuse
 *     reason=fd-setsize), as posix-select does, or uses poll/epoll.
 *   Diagnosis: crash:SIGABRT in many-clients-1100, when the 1021st or so client gets
 *     descriptor 1024 (a correct select server shows capacity-limit there instead).
 */
#include <sys/select.h>

#include "ec_faulty.h"

const struct ec_model ec_model = {
    .id = "faulty-select-fd-setsize",
    .summary = "FAULTY on purpose (gallery of known bugs): select() loop that refuses\n"
               "descriptors > FD_SETSIZE instead of >=: descriptor 1024 overflows the fd_set.",
    .default_workers = 0,
};

/* May s go into the loop's fd_sets? NULL, or the refuse reason. */
static const char *admit_off_by_one(struct ec_floop *l, ec_sock_t s)
{
    (void)l;
    if (s > FD_SETSIZE) /* BUG: >, not >=: descriptor 1024 gets into the fd_set */
        return "fd-setsize";
    return NULL;
}

static const struct ec_bug bug = {.admit = admit_off_by_one};

int ec_serve(ec_sock_t listener, const struct ec_server_opts *o)
{
    return ec_select_loop(listener, o, &bug);
}
