//go:build !unix

package manifest

import "errors"

// Hashing relies on O_NOFOLLOW and fstat; drill runs on unix systems only.

const (
	fileFlags = 0
	dirFlags  = 0
	rootFlags = 0
)

var errUnsupported = errors.New("hashing files is only supported on unix systems")

func sysOpen(string) (int, error)       { return -1, errUnsupported }
func sysFstat(int) (bool, int64, error) { return false, 0, errUnsupported }
func sysRead(int, []byte) (int, error)  { return 0, errUnsupported }
func sysClose(int)                      {}
