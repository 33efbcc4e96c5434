"""pg_proto_library: C++ (and optionally gRPC) code from .proto files with Debian's protoc.

Bazel 4's native proto rules want to build protoc from source; we use the system compiler
and plugin instead, through one genrule per library. Imports are relative to the workspace
root (`import "proto/prometheus_client.proto";`), and so are the generated headers
(`#include "proto/ingest.pb.h"`).
"""

def pg_proto_library(name, srcs, deps = [], grpc = False, visibility = None):
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]

    native.filegroup(
        name = name + "_srcs",
        srcs = srcs + [dep + "_srcs" for dep in deps],
        visibility = visibility,
    )

    cmd = "protoc -I. --cpp_out=$(GENDIR)"
    if grpc:
        cmd += " --grpc_out=$(GENDIR) --plugin=protoc-gen-grpc=$$(command -v grpc_cpp_plugin)"
    cmd += " " + " ".join(["$(location %s)" % src for src in srcs])

    native.genrule(
        name = name + "_gen",
        srcs = [name + "_srcs"] + srcs,
        outs = outs,
        cmd = cmd,
    )

    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["@system_libs//:protobuf"] + (["@system_libs//:grpc"] if grpc else []),
        visibility = visibility,
    )
