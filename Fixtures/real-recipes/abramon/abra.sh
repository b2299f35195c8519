#!/usr/bin/env bash

# abra sources this file. There are no custom commands for this recipe yet.
#
# To run the check by hand for testing, temporarily scale the app up so the
# one-shot container runs immediately:
#
#   abra app run <domain> app -- python3 /healthcheck.py
#
# (See the README for the full testing flow.)
