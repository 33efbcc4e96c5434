#!/bin/sh
# Bazel's --workspace_status_command (.bazelrc): the source revision that //libs/build_info
# stamps into the binaries, for --version and the *_build_info metrics. "+dirty" marks a build
# with uncommitted changes to tracked files; outside a git checkout it is "unknown".
# Bazel runs this on every command: a git command taking the index lock would make a
# `git commit` made at that moment fail.
export GIT_OPTIONAL_LOCKS=0
revision=$(git rev-parse --short=12 HEAD 2>/dev/null) || revision=unknown
if [ "$revision" != unknown ] &&
  [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  revision="$revision+dirty"
fi
echo "STABLE_PUSHGATE_REVISION $revision"
