#!/bin/sh
# Doxygen input filter for the public headers: a mention of a project page,
# "docs/x-y.md" (backquoted or not), becomes a link to that page, which
# Doxygen names "md_docs_x_y". Lines are kept one for one; @par titles, where
# a link is not allowed, are left alone.
exec sed -E '/@par /!{
s#`?docs/([A-Za-z0-9_]+)\.md`?#@ref md_docs_\1 "docs/\1.md"#g
s#`?docs/([A-Za-z0-9_]+)-([A-Za-z0-9_]+)\.md`?#@ref md_docs_\1_\2 "docs/\1-\2.md"#g
}' "$1"
