//go:build !linux

package restic

// watchReads does nothing where /proc/PID/io does not exist.
func watchReads(int, func(int64)) (stop func()) { return func() {} }

// freeBytes cannot be told here.
func freeBytes(string) int64 { return -1 }

// lowerPriority does nothing here: the listing runs at the restore's
// priority.
func lowerPriority(int, int) {}
