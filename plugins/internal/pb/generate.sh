#!/bin/sh
# generate.sh regenerates the Go code of drill's backend plugin protocol:
# plugins/internal/pb/v1/backend.pb.go and backend_grpc.pb.go from
# plugins/internal/pb/v1/backend.proto.
#
# It builds protoc-gen-go and protoc-gen-go-grpc at the versions pinned as
# tools in tools/go.mod, puts them first on PATH and runs protoc (Debian package
# protobuf-compiler, which also ships google/protobuf/timestamp.proto) from
# the module root, so the file is registered as
# "plugins/internal/pb/v1/backend.proto". The same protoc gives
# byte-identical output on every run; the protoc version is recorded in the
# generated headers.
#
# Usage: plugins/internal/pb/generate.sh   (from any directory)
set -eu

root=$(cd "$(dirname "$0")/../../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$root"
go build -modfile=tools/go.mod -o "$tmp/protoc-gen-go" google.golang.org/protobuf/cmd/protoc-gen-go
go build -modfile=tools/go.mod -o "$tmp/protoc-gen-go-grpc" google.golang.org/grpc/cmd/protoc-gen-go-grpc

PATH="$tmp:$PATH" protoc -I . \
	--go_out=. --go_opt=paths=source_relative \
	--go-grpc_out=. --go-grpc_opt=paths=source_relative \
	plugins/internal/pb/v1/backend.proto
