// Package evlog is drill's evidence log without its storage: the RFC 6962
// tree of golang.org/x/mod/sumdb/tlog rebuilt in memory (MemTree), the
// C2SP tlog-checkpoint notes signed after every append (Checkpoint), the
// chain of keys a log was signed with across key changes (KeyChain), the
// checks of one entry's signature and place (CheckLeaf), with the
// signatures left to batches (Sigs, CheckAll, over internal/sigbatch)
// unless thorough, and the error that names the first record or
// checkpoint found wrong (VerifyError).
//
// It imports no database: the evidence store (internal/evidence, bbolt)
// and the offline bundle verifier (internal/bundle) both build on it, so
// an auditor's verifier builds without the store.
package evlog
