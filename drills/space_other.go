//go:build !linux

package drills

// freeBytes is unknown (-1) where statfs is not available.
func freeBytes(string) (int64, error) { return -1, nil }
