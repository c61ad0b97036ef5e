#!/bin/sh
echo should never run >&2
exit 1
