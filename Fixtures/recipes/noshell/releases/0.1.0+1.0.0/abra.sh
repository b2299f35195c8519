# noshell has no configs to version.
