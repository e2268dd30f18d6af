//go:build !(linux && (amd64 || arm64))

package manifest

// adviseSequential is a no-op where fadvise64 is not wired up.
func adviseSequential(int) {}
