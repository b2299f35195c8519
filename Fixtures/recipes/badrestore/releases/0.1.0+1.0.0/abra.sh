# badrestore has no configs to version.
