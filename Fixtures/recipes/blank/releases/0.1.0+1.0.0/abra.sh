# blank has no configs to version.
