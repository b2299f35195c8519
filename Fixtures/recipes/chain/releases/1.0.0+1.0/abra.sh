# Versions of the configs this recipe ships (abra reads these exports at deploy time).
export ENTRYPOINT_CONF_VERSION=v1
