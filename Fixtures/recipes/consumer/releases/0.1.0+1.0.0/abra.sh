# consumer has no configs to version.
