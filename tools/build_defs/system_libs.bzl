"""The one place where pushgate links Debian's system libraries.

`system_libs` is a repository rule that asks `pkg-config` for each library's flags and
writes one `cc_library` per library into `@system_libs//:<name>`. BUILD files depend on
those targets and never spell `-l` flags themselves.
"""

def _pkg_config(ctx, args):
    result = ctx.execute(["pkg-config"] + args)
    if result.return_code != 0:
        fail("pkg-config %s failed (is the -dev package installed? run tools/setup): %s" %
             (" ".join(args), result.stderr))
    return result.stdout.strip().split(" ") if result.stdout.strip() else []

def _system_libs_impl(ctx):
    rules = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, spec in ctx.attr.libraries.items():
        modules = spec.split(" ")
        cflags = _pkg_config(ctx, ["--cflags"] + modules)
        libs = _pkg_config(ctx, ["--libs"] + modules)

        # Debian's headers live in /usr/include, which the compiler searches already;
        # keep only defines and extra include directories.
        copts = [f for f in cflags if f and f != "-I/usr/include"]
        rules.append("cc_library(\n    name = %r,\n    copts = %r,\n    linkopts = %r,\n)\n" %
                     (name, copts, libs))
    for name, flags in ctx.attr.raw_linkopts.items():
        rules.append("cc_library(\n    name = %r,\n    linkopts = %r,\n)\n" % (name, flags))
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD", "\n".join(rules))

system_libs = repository_rule(
    implementation = _system_libs_impl,
    attrs = {
        # target name -> space-separated pkg-config modules.
        "libraries": attr.string_dict(mandatory = True),
        # target name -> link flags, for libraries Debian ships without a .pc file.
        "raw_linkopts": attr.string_list_dict(),
    },
    environ = ["PKG_CONFIG_PATH"],
    local = True,
)
