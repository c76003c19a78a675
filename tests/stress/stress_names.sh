#!/bin/bash
. "$TESTS_DIR/stress/common.sh"
skip_all "not written yet"
