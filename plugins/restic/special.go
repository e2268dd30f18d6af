package restic

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Run as root, restic restores device nodes and FIFOs as such and keeps
// setuid, setgid and sticky bits (sockets it does not back up at all), and
// it has no option against either. A drill has no use for them: they hold
// no backed-up data, and a device node or a setuid-root program left in
// scratch is a way into the host. So, once restic has exited, the restore
// is swept: device nodes, FIFOs and sockets are removed, setuid, setgid and
// sticky bits are cleared, and the listing check takes such entries as
// skipped on purpose (the counts go to Details). Doing it while restic
// runs is not possible: restic sets a node's metadata after it reports the
// node restored, and sets file modes in a second pass after the data.
// Until the sweep they sit in the scratch target, below the host's 0700
// scratch root: only the drill's own user (who could create them anyway)
// can reach them. A confined plugin (docs/sandbox.md) cannot create device
// nodes at all: restic's mknod is denied, and deniedDevices counts those
// as skipped too. Nothing drill does opens them: the hasher opens only
// what lstat says is a regular file, and without blocking.

// Details keys of the sweep.
const (
	detailSkippedSpecial = "skipped_special"
	detailModeBits       = "mode_bits_dropped"
)

// setidBits are the mode bits the sweep clears.
const setidBits = fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// sweepTarget removes device nodes, FIFOs and sockets below target and
// clears setuid, setgid and sticky bits, without following symlinks, and
// records the counts in details.
func sweepTarget(target string, details map[string]string) error {
	var removed, cleared int64
	err := filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch t := d.Type(); {
		case t&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe|fs.ModeSocket|fs.ModeIrregular) != 0:
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("remove the special file restic restored: %w", err)
			}
			removed++
			return nil
		case t&fs.ModeSymlink != 0:
			return nil
		}
		if p == target {
			return nil // the host's directory
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode()&setidBits != 0 {
			if err := os.Chmod(p, fi.Mode().Perm()); err != nil {
				return fmt.Errorf("clear the setuid, setgid and sticky bits restic restored: %w", err)
			}
			cleared++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sweep the restored tree: %w", err)
	}
	details[detailSkippedSpecial] = strconv.FormatInt(removed, 10)
	details[detailModeBits] = strconv.FormatInt(cleared, 10)
	return nil
}

// deniedDevices takes out of errs restic's errors for the device nodes the
// sandbox kept it from creating (run as root restic would mknod them;
// Landlock grants no plugin that, since a block device in scratch would
// open the host's disk to whatever reads scratch): skipped on purpose, as
// the sweep skips the nodes it finds, and counted in details. It returns
// the other errors and how many it took out.
func deniedDevices(errs []Message, details map[string]string) ([]Message, int64) {
	var rest []Message
	var denied int64
	for _, e := range errs {
		if strings.Contains(e.Text, "mknod ") && (strings.Contains(e.Text, "permission denied") || strings.Contains(e.Text, "operation not permitted")) {
			denied++
			continue
		}
		rest = append(rest, e)
	}
	if denied > 0 {
		n, _ := strconv.ParseInt(details[detailSkippedSpecial], 10, 64)
		details[detailSkippedSpecial] = strconv.FormatInt(n+denied, 10)
	}
	return rest, denied
}

// errNotRegular is returned by openRegular for anything but a regular file.
var errNotRegular = errors.New("not a regular file")

// openRegular opens path for reading only if it is a regular file: a
// device node is never opened (opening one can act on the device), a FIFO
// never blocks the hasher, and a symlink is never followed.
func openRegular(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errNotRegular
	}
	return os.OpenFile(path, os.O_RDONLY|syscallNoFollow|syscall.O_NONBLOCK, 0)
}
