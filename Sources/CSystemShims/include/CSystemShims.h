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

#endif
