"""Login-service templates, installed inside the wheel as the package `safeshare.templates`.

`safeshare service install` fills the $placeholders with absolute paths (the interpreter
that is running) and hands the result to the OS.
"""
