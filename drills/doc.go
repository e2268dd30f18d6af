// Package drills is drill's domain: it runs one restore drill from its
// config (restore through a backend plugin into scratch space, checksum what
// came back, run the checks), decides the verdict, and hands the result to
// the evidence log.
//
// Where things are decided:
//   - runner.go: the steps of a drill, scratch space, the timeout;
//   - checks.go: min_files, min_bytes, paths, manifest, RPO and RTO;
//   - verdict.go: how problems and checks become pass, fail, error or
//     interrupted;
//   - validate.go: a drill's source checked against its backend's schema;
//   - launcher.go: which process serves a backend (built-in or external).
package drills
