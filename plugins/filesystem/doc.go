// Package filesystem is drill's backend for plain file backups: a directory
// copy (the output of rsync, rsnapshot or cp -a) or a tar archive (.tar,
// .tar.gz/.tgz, .tar.zst).
//
// # Source
//
// A source has exactly one of two keys:
//
//   - path: a glob of directory copies. Without stamp, the matching
//     directory written last (by its own ctime) is the only restore point,
//     and its backup time is the newest ctime of any entry in its tree
//     (files, directories and links, the top included; TimeBasis "newest
//     ctime"): when the copy was last written. Not the newest mtime: cp -a
//     and rsync -a keep the source's mtimes, so a copy made a minute ago of
//     data unchanged for months would look months old, and every copy of
//     an unchanged tree would have the same one. No tool can set a ctime,
//     so it is when the copy wrote the entry, or last changed it (a file
//     deleted from the copy dates it, through its directory). It errs the
//     other way from mtimes: whatever writes to a copy makes it look fresh
//     (a backup job that died halfway, a chmod or chown, a hard link made
//     to its files, as rsnapshot and rsync --link-dest do from the next
//     copy), and a failing RPO check of a copy says to set stamp, the
//     backup job's own word that it finished. With stamp (a file name
//     relative to each directory, touched by the backup job when it has
//     finished), every matching directory that holds the stamp is a
//     restore point, its backup time is the stamp's mtime (TimeBasis
//     "stamp mtime"), and directories without the stamp (a copy still
//     running, or one that died) are not restore points. Without stamp
//     the listing walks the chosen copy (lstat gives the ctime with the
//     rest), and the restore's own walk dates it the same way. Choosing
//     the copy by its own directory's ctime is cheap and right for new
//     copies (cp -a, rsync into a new directory, rsnapshot's rotation),
//     not for copies refreshed in place whose changes are all deeper: those
//     want a stamp. Reading a copy changes no ctime. Where ctimes are not
//     read (systems other than Linux) the newest mtime stands in ("newest
//     mtime").
//   - archive: a glob of tar archives. Every matching regular file is a
//     restore point, newest mtime first, and its mtime is the backup time
//     (TimeBasis "archive mtime"): a tar archive is written once, and
//     copied with rsync -a or cp -a it keeps that time.
//     The compression is detected from the file's first bytes (gzip, zstd,
//     else plain tar), never from its name.
//
// Paths must be absolute: the host resolves relative paths against the
// config file's folder before the backend sees them.
//
// # Restore
//
// An archive is read once: one goroutine decompresses (klauspost/compress
// gzip and zstd) and parses the tar stream and hands pooled 512 KiB chunks
// to a second goroutine, which writes each regular file and computes its
// SHA-256 from the same bytes. A directory copy is walked without
// following symlinks and copied by two workers, each taking the files of
// one directory at a time, that hash each file as they copy it. Every
// regular file is reported through RestoreEvents.Files with its digest
// once it is closed, in batches of up to 256 files or 100 ms; progress
// (compressed bytes read of the archive's size, or bytes copied) at most
// ten times a second.
//
// All writes go through an os.Root opened on the target, or (for regular
// files on Linux) through openat with O_EXCL|O_NOFOLLOW of one name in an
// open directory the restore made, and on top of that the backend keeps its
// own account of the directories it created, so that a hostile backup
// cannot make it write anywhere else:
//
//   - absolute names and names with a ".." component are refused;
//   - an entry whose parent is not a directory this restore created (for
//     instance one that passes through a symlink from the archive) is
//     refused;
//   - a symlink is created with the target the backup gives it, absolute or
//     leading out of the tree, as tar -x, cp -a and restic do (real
//     folders hold such links); it is never followed, and nothing is
//     written through it;
//   - a hard link is created only to a regular file this restore already
//     wrote (it is reported as a restored file, with that file's digest);
//   - an entry below a refused link is refused too, rather than put in a
//     directory of the link's name;
//   - device nodes, FIFOs and sockets are skipped without a problem and
//     counted in Details["skipped_special"]: they hold no backed-up data;
//   - setuid, setgid and sticky bits are dropped (mode & 0777); ownership
//     is not restored.
//
// Every refused entry is a Problem of kind fail naming the entry. Files keep
// their mode and mtime; directories get theirs after their contents are
// written. Symlinks keep their target but not their own mtime. The target
// directory itself keeps the mode and mtime the host gave it.
//
// A truncated or corrupt archive is a Problem of kind fail naming the
// archive and the entry where the damage was found; the files completely
// written before it are still reported, the partly written one is removed.
// A plain tar that ends on an entry boundary without the end-of-archive
// marker counts as truncated. When the same name appears twice in an
// archive (tar -r appends) the later entry replaces the earlier one, as
// tar -x does, and a regular file is then reported once for each copy; the
// last report describes what is on disk. Hard links in a directory copy are
// copied as separate files.
//
// A restore point that was listed but no longer exists is a Problem of kind
// fail ("restore point ... vanished"): the backup is missing, so recovery as
// claimed is not possible. A point that is not a match of the source's glob
// is a returned error (the request is wrong, not the backup). An archive
// compressed with xz, bzip2 or lz4 is a Problem of kind error: the drill
// cannot be carried out by this backend. So is a file or folder of the
// backup that drill's user may not read (permission denied): a copy made
// as root is good backup, and the message says to run drill as a user
// that can read it. Exceeding RestoreRequest.MaxBytes,
// and local write errors such as a full disk, stop the restore with a
// Problem of kind error; the files written before are still reported. At
// most 100 problems of each kind are listed, then one that counts the rest.
// A zstd archive may use a window of up to 2 GiB (zstd --long=31), which
// decoding it then needs in memory.
//
// The response's Point.Root is the folder a drill's manifest and paths
// entries are relative to: the deepest folder reached from the top through
// folders that each hold exactly one entry, itself a real folder (not a
// symlink), found from the names of every entry of the backup, sampled or
// not, so "srv/files" for `tar -czf x /srv/files` and "files" for
// `rsync -a /srv/files /backups/daily/`; "" when the top holds several
// entries or a file. A stamp file does not count as an entry. See root.go.
//
// Cleanup has nothing to do: nothing is created outside the target, which
// the host removes.
package filesystem
