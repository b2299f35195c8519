#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H

#include <sys/types.h>

/// Arms PR_SET_PDEATHSIG: the kernel sends `signal` to this process when its parent dies.
/// Returns 0 on success, -1 with errno set on failure.
int ccci_set_parent_death_signal(int signal);

/// Reads back the armed parent-death signal (0 when none). Returns -1 on failure.
int ccci_get_parent_death_signal(void);

/// Creates an anonymous in-memory file (memfd, close-on-exec) for a child's standard input.
/// Returns the descriptor, or -1 with errno set.
int ccci_anonymous_file(const char *name);

/// Starts `path` with `argv` and `envp` (NULL-terminated) as the leader of a new process group:
/// standard input from /dev/null, standard output and error appended to `log_path` (created
/// 0640), every other descriptor closed, the signal mask empty and SIGTERM, SIGINT, SIGHUP,
/// SIGPIPE and SIGQUIT at their default actions (a parent that ignores them does not pass that
/// on). Returns 0 and sets `*pid`, or an errno value (the program could not be started).
int ccci_spawn_in_own_group(const char *path, char *const argv[], char *const envp[], const char *log_path,
                            pid_t *pid);

#endif
