#define _GNU_SOURCE
#include "CSystemShims.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
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

int ccci_spawn_in_own_group(const char *path, char *const argv[], char *const envp[], const char *log_path,
                            pid_t *pid) {
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t actions;
    int rc = posix_spawnattr_init(&attr);
    if (rc != 0) return rc;
    rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) {
        posix_spawnattr_destroy(&attr);
        return rc;
    }
    sigset_t mask, defaults;
    sigemptyset(&mask);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGQUIT);
    if ((rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) == 0 &&
        (rc = posix_spawnattr_setpgroup(&attr, 0)) == 0 && (rc = posix_spawnattr_setsigmask(&attr, &mask)) == 0 &&
        (rc = posix_spawnattr_setsigdefault(&attr, &defaults)) == 0 &&
        (rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)) == 0 &&
        (rc = posix_spawn_file_actions_addopen(&actions, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0640)) == 0 &&
        (rc = posix_spawn_file_actions_adddup2(&actions, 1, 2)) == 0
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
        && (rc = posix_spawn_file_actions_addclosefrom_np(&actions, 3)) == 0
#endif
    ) {
        rc = posix_spawn(pid, path, &actions, &attr, argv, envp);
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc;
}
