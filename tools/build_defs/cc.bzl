"""The macros every pushgate C++ target is declared with, so all share one set of options."""

def pg_cc_library(name, deps = [], **kwargs):
    native.cc_library(name = name, deps = deps, **kwargs)

def pg_cc_binary(name, deps = [], **kwargs):
    native.cc_binary(name = name, deps = deps, **kwargs)

def pg_cc_test(name, deps = [], size = "small", **kwargs):
    """A GoogleTest unit test; main() comes from gmock_main."""
    native.cc_test(
        name = name,
        size = size,
        deps = deps + ["@system_libs//:gtest_main"],
        **kwargs
    )
