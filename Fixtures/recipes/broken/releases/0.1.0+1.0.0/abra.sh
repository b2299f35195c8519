# broken has no configs to version.
