# flaky has no configs to version.
