// Package propose turns backups into a drill config: `drill init`.
//
// Where things are decided:
//   - detect.go: what a target is (a directory copy, an archive, a
//     PostgreSQL or MySQL dump, a restic repository), from its first bytes,
//     never from its name; and which source key of which backend names it.
//   - propose.go: the trial. Every target is drilled once through the real
//     runner (drills.Runner), with the backend a drill would use, confined
//     as a drill is, into a temporary scratch directory and with no checks:
//     what that restore brought back (files and bytes per top-level folder,
//     tables and rows) and the restore points it listed are what the
//     checks, the RPO and the schedule are drawn from. A backup whose trial
//     does not pass is not proposed.
//   - figures.go: the figures, pure functions of what was seen: a margin
//     below the counts, friendly units, the cadence of the restore points.
//   - render.go: the config as commented YAML text, each figure with a
//     comment saying where it came from. No secret is ever written: the
//     restic password and the database logins are referenced by file or
//     command.
package propose
