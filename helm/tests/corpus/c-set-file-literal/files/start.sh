#!/bin/sh
echo "starting, please wait"
exec nginx -g "daemon off;"
