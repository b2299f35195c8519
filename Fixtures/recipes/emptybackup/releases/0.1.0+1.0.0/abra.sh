# emptybackup has no configs to version.
