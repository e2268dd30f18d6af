// Package bundle writes and verifies drill's evidence export bundles: a
// gzip'd tar of the log's entries, checkpoints, keys, proofs and reports,
// ending with an export statement signed by the log's key (see bundle.go
// for the members, docs/evidence.md for the format).
//
// Write writes a bundle from Contents, the plain value the evidence store
// collects under one read transaction (evidence.Store.Export). Verify
// checks a bundle offline with only a public key. The package imports no
// database, so the auditor's verifier builds, and could ship, without the
// evidence store: a test checks that go.etcd.io/bbolt is not among its
// dependencies.
//
// What Verify proves: every entry is signed by the log's key in force and
// sits at its place in the tree of the signed checkpoints; the export
// statement, signed by the log's key, names every member with its SHA-256
// and binds the log's origin, size, root and the selection; the reports
// are the ones the verified records give. What it cannot prove: that no
// newer records were withheld (an older bundle verifies as well), which
// only a checkpoint the auditor kept shows (Options.Previous).
package bundle
