# oneshot has no configs to version.
