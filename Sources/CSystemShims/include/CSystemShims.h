#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H

#include <sys/types.h>

/// Arms PR_SET_PDEATHSIG: the kernel sends `signal` to this process when its parent dies.
/// Returns 0 on success, -1 with errno set on failure.
int ccci_set_parent_death_signal(int signal);

/// Reads back the armed parent-death signal (0 when none). Returns -1 on failure.
int ccci_get_parent_death_signal(void);

/// Marks this process a child subreaper (orphaned descendants re-parent to it). 0 / -1.
int ccci_set_child_subreaper(int on);

#endif
