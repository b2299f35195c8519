# moved has no configs to version.
