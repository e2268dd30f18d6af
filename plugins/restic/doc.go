// Package restic is the restic backend: it drives the real restic CLI with
// --json, restores a snapshot into the drill's scratch target and reports
// what restic said, including the damage restic does not report on its own
// (see docs/design-notes.md).
//
// # Hostile snapshots and a full scratch
//
// restic restores nothing outside its target and never follows a symlink
// it restores (symlinks to /etc or .. come back as symlinks, and nothing
// drill does follows them), but it trusts the snapshot in three ways a
// drill must not:
//
//   - Size. A snapshot of a sparse or zero-filled file is tiny in the
//     repository and as large as the file when restored. With
//     RestoreRequest.MaxBytes set, a snapshot whose summary (listed by
//     ListRestorePoints) is past the limit is not restored at all; while
//     restic restores, its status lines (total_bytes, known once it has
//     walked the trees, and bytes_restored) are read at 20 a second, and
//     past the limit restic gets SIGINT, so it removes its lock. Either is a
//     Problem of kind error: "restore would exceed max_scratch_bytes (N
//     bytes): snapshot ID ...". restic preallocates each file it writes, so
//     a single large file takes its whole size on disk at once; a disk too
//     small for it fails the preallocation, which is the next case.
//   - A full target. restic goes on after a write error, file after file.
//     Its first error that says the target cannot take more (no space left
//     on device, disk quota exceeded, read-only file system) stops it the
//     same way, as a Problem of kind error naming the file and quoting
//     restic: the machine failed, not the backup. No listing check follows
//     a stopped restore, and the host leaves the pieces restic left
//     unhashed.
//   - Special files and mode bits. Run as root, restic recreates device
//     nodes and FIFOs and keeps setuid, setgid and sticky bits (it does not
//     back up sockets). After restic exits, the target is swept: device
//     nodes, FIFOs and sockets are removed and the bits cleared, counted in
//     Details["skipped_special"] and Details["mode_bits_dropped"], and the
//     listing check takes those nodes as skipped on purpose. It cannot be
//     done sooner: restic sets a node's metadata after reporting it
//     restored, and file modes in a second pass. Until then they sit in the
//     scratch target below the host's 0700 scratch root, which only the
//     drill's user can enter. The hasher opens only what lstat says is a
//     regular file, without blocking, so a FIFO cannot hang it and no
//     device is ever opened.
package restic
