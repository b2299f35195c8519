# lintbad has no configs to version.
