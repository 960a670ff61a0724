#!/bin/sh
# Clean a copy with safeshare: installed by safeshare (`safeshare integrate uninstall` removes it).
# Nautilus passes the selected files as arguments, and as newline-separated paths in
# NAUTILUS_SCRIPT_SELECTED_FILE_PATHS; the clean copies go to the safe-share folder.
if [ "$$#" -eq 0 ] && [ -n "$${NAUTILUS_SCRIPT_SELECTED_FILE_PATHS:-}" ]; then
    set -f
    IFS='
'
    # shellcheck disable=SC2086
    set -- $$NAUTILUS_SCRIPT_SELECTED_FILE_PATHS
    set +f
    unset IFS
fi
[ "$$#" -gt 0 ] || exit 0
exec $command -- "$$@"
