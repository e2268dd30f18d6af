// Package pbv1 is the generated Go code of drill's backend plugin protocol,
// version 1 (backend.proto, package drill.plugin.v1). It is internal: plugin
// authors and the host use the Go types of package plugins, and the glue in
// package plugins converts between the two. Regenerate with
// plugins/internal/pb/generate.sh; never edit the .pb.go files by hand.
package pbv1
