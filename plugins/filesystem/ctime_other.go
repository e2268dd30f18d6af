//go:build !linux

package filesystem

import (
	"io/fs"
	"time"

	"github.com/drillhq/drill/plugins"
)

// copyBasis names what writtenTime returns.
const copyBasis = plugins.BasisNewestMtime

// writtenTime is the entry's mtime where drill does not read ctimes: how
// old its data is, which in a copy made with cp -a or rsync -a is older
// than the copy.
func writtenTime(fi fs.FileInfo) time.Time { return fi.ModTime() }
