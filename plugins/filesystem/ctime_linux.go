package filesystem

import (
	"io/fs"
	"syscall"
	"time"

	"github.com/drillhq/drill/plugins"
)

// copyBasis names what writtenTime returns.
const copyBasis = plugins.BasisNewestCtime

// writtenTime is when the entry fi describes was last written: its ctime,
// which every change to the entry, its content, name, mode or times,
// sets to now. Copy tools (cp -a, rsync -a) set mtimes to the source's but
// cannot set ctimes, so in a copy the ctime is when the copy wrote the
// entry. fi comes from lstat, whose Sys is always a *syscall.Stat_t here.
func writtenTime(fi fs.FileInfo) time.Time {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fi.ModTime()
	}
	return time.Unix(st.Ctim.Unix())
}
