#define _GNU_SOURCE
#include "CSystemShims.h"

#include <sys/mman.h>
#include <sys/prctl.h>

int ccci_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0, 0, 0);
}

int ccci_get_parent_death_signal(void) {
    int sig = 0;
    if (prctl(PR_GET_PDEATHSIG, (unsigned long)&sig, 0, 0, 0) != 0) return -1;
    return sig;
}

int ccci_anonymous_file(const char *name) {
    return memfd_create(name, MFD_CLOEXEC);
}
