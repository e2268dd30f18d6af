// Package evidence is drill's evidence store: every drill result as a
// signed record in an append-only Merkle tree with signed checkpoints, in
// one bbolt file (state_dir/drill.db), and the runner's state kept beside
// it (start markers, scratch resources, the restore point index). It is
// the only package that imports bbolt.
//
// The log is built in layers, like golang.org/x/mod/sumdb's tlog and
// note, and only the store knows bbolt:
//
//	internal/record    the drill record (no signatures)
//	internal/envelope  one signed entry: DSSE envelope, in-toto Statement, key change
//	internal/sigbatch  Ed25519 signatures verified in batches
//	internal/evlog     checkpoints, the key chain, the rebuilt tree, VerifyError
//	internal/report    the CSV and HTML reports of records
//	internal/bundle    export bundles: Write, and Verify offline (no bbolt)
//	internal/evidence  the store: Open, Append, RotateKey, Verify, Export (collect)
//
// # Records
//
// A record is a record.Record (the drill result) as the predicate of an
// in-toto Statement v1 (predicate type envelope.PredicateType), encoded
// with encoding/json, signed into a DSSE envelope (payload type
// envelope.PayloadType, Ed25519 over the DSSE pre-authentication encoding,
// key ID the hex SHA-256 of the public key). The envelope's JSON, one line
// of at most envelope.MaxLeafSize bytes, is the leaf of the tree; its bytes are stored and hashed exactly as signed and
// never re-encoded. The Record carries its own place in the log
// (log_origin, log_index), so a record cannot be moved or copied into
// another log without its signature breaking.
//
// # Tree and checkpoints
//
// The tree is the RFC 6962 Merkle tree of golang.org/x/mod/sumdb/tlog (the
// construction of Go's checksum database). After every append the log key
// signs a C2SP tlog-checkpoint note (golang.org/x/mod/sumdb/note) whose
// text is
//
//	<origin>\n<size>\n<base64 root hash>\n
//
// All checkpoints are kept, from the empty tree (size 0) on.
//
// # On-disk layout
//
// All integer keys are 8 bytes big-endian, so that bbolt iterates them in
// numeric order. The append-only buckets are written with FillPercent 1.0.
//
//	meta         "format"  "1"
//	             "origin"  the log origin, fixed at creation
//	             "vkey"    the log's note verifier key (name+hash+base64)
//	             "size"    number of records N, 8 bytes big-endian
//	             "created" creation time, RFC 3339 UTC
//	leaves       i (0..N-1)                        the DSSE envelope of record i
//	hashes       tlog.StoredHashIndex (0..StoredHashCount(N)-1)   32-byte hash
//	checkpoints  n (0..N)                          the signed checkpoint of size n
//	points       drill "\x00" source_sha256      the newest restore point its records saw (JSON)
//	by_drill     drill "\x00" i                  record i's verdict, flags (1: sampled), finished (14 bytes)
//	by_service   service "\x00" i                the same, by the record's service
//	meta         "indexed" how many log entries by_drill and by_service cover (8 bytes)
//
// Append writes one leaf, its stored hashes, the checkpoint of the new size
// and meta/size in a single bbolt transaction, so a crash leaves either the
// old log or the new one. Before signing, it checks that the stored hashes
// still give the root of the latest signed checkpoint and that nothing is
// stored beyond it; since every stored hash an append reads is covered by
// that root, the log key never signs a checkpoint inconsistent with an
// earlier one, even on a damaged database. (Damage that Append does not
// build on, such as an edited old leaf, does not stop it; Verify keeps
// reporting it.) AppendBatch does the same for several records, each with
// its own checkpoint, in one transaction.
//
// The points bucket is an index derived from the records (see
// Store.NewestPoint), written in the same transaction as each record and
// rebuilt from the records when it is missing; it is not signed and Verify
// does not rely on it. The record indexes (by_drill, by_service; index.go)
// are derived likewise, brought up to the log by a read-write Open, and
// checked against the records by Verify, since the position reads them.
//
// # What Verify proves
//
// Verify rebuilds the tree from the stored leaves alone and checks, in log
// order: every envelope is signed by the log key, is a drill Statement and
// names its own origin and index; every stored hash equals the recomputed
// one; every checkpoint 0..N is signed by the log key for this origin and
// its size, and its root equals the root of the first n recomputed
// records; nothing is stored beyond N. So any change, removal, insertion,
// reordering or substitution of a record, of a stored hash or of a
// checkpoint is reported, with the first record or checkpoint concerned.
// The latest checkpoint's signature is checked alone; the others in
// batches (internal/sigbatch), or each alone with VerifyOptions.Thorough:
// see docs/evidence.md, "How signatures are checked".
//
// What it cannot prove on its own: a rollback that removes the newest
// records together with their hashes and checkpoints leaves a smaller log
// that is perfectly valid, and anyone holding the private key can rewrite
// history and sign it again. Both are detected only against a checkpoint
// kept elsewhere (an auditor's copy of an earlier export, a witness). And
// when the store is opened without Options.Key, Verify trusts the public
// key stored in the database itself; pin the key to prove authorship.
//
// # Export bundles
//
// Store.Export collects what a bundle holds (bundle.Contents: entries,
// checkpoints, key chain, proofs) in one read transaction, then
// bundle.Write writes it (see internal/bundle/bundle.go for its members).
// A bundle ends with an export statement: an in-toto Statement of
// predicate type bundle.ExportType, signed (DSSE) with the log's key,
// whose subjects are every other member with its SHA-256 and whose
// predicate binds the origin, the log's size and root, complete or
// subset, the selection and the time. bundle.Verify requires it, checks
// every member against it, refuses a bundle whose log is shorter than it
// says, and rebuilds the reports from the verified records to compare
// them byte for byte. What it cannot prove: that no newer records were
// withheld (an older bundle verifies as well), which only a checkpoint
// the auditor kept shows (bundle.Options.Previous).
package evidence
