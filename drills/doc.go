// Package drills is drill's domain: it runs one restore drill from its
// config (restore through a backend plugin into scratch space, checksum what
// came back, run the checks), decides the verdict, and hands the result to
// the evidence log.
//
// Where things are decided:
//   - drillrun.go: a drill as a sequence of steps over one drillRun
//     (launch, prepare, confine, list, choose the restore point, plan,
//     restore, verify, check), the phases, the timeout;
//   - restorepoint.go: which restore point is restored, and the
//     restore_point check (none listed, listing problems, a vanished point);
//   - restore.go, sample.go: the restore call, the stall detector's use,
//     the slices of a sampled drill; preflight.go: whether a full restore fits;
//   - verify.go: the checksums and the restore check;
//   - checks.go: min_files, min_bytes, paths, manifest, RPO and RTO;
//   - reasons.go: a backend's problems grouped into reasons;
//   - verdict.go: how problems and checks become pass, fail, error or
//     interrupted, a pure function;
//   - position.go: the recovery position and its statuses;
//   - validate.go: a drill's source checked against its backend's schema;
//   - launcher.go: which process serves a backend (built-in or external).
package drills
