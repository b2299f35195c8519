# abra recipe metadata for the nodex-next Co-op Cloud recipe.
#
# This file is where a recipe declares version-pinned secrets, configs, and
# entrypoints for abra to manage. nodex-next serves a static build and needs
# none of these yet, so there is nothing to declare.
#
# Examples for later:
#   export ENTRYPOINT_VERSION=v1
#   export SESSION_SECRET_VERSION=v1
