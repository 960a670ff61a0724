"""Templates, installed inside the wheel as the package `safeshare.templates`.

`safeshare service install` fills the login-service templates (systemd/, xdg/, launchd/,
windows/) with absolute paths (the interpreter that is running) and hands the result to the
OS; `safeshare integrate install` does the same with the file-manager entries in
filemanager/. icons/ holds safeshare's icon.
"""
