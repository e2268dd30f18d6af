package plugins

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// sealedCopy copies the plugin executable f into a sealed memfd while
// hashing it and returns the memfd, positioned at its start, and the
// SHA-256 of what it holds. The seals (no write, shrink or grow, and no
// further seals) make the memfd's content final: what was hashed is what
// runs, whatever happens to the file on disk afterwards.
func sealedCopy(f *os.File, name string) (*os.File, []byte, error) {
	fd, err := unix.MemfdCreate("drill-plugin-"+name, unix.MFD_ALLOW_SEALING|unix.MFD_CLOEXEC)
	if err != nil {
		return nil, nil, fmt.Errorf("create a sealed copy of %s (memfd_create): %w", f.Name(), err)
	}
	mem := os.NewFile(uintptr(fd), "memfd:drill-plugin-"+name)
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(mem, h), f); err != nil {
		_ = mem.Close()
		return nil, nil, fmt.Errorf("copy %s into its sealed copy: %w", f.Name(), err)
	}
	seals := unix.F_SEAL_WRITE | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(mem.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		_ = mem.Close()
		return nil, nil, fmt.Errorf("seal the copy of %s: %w", f.Name(), err)
	}
	if _, err := mem.Seek(0, io.SeekStart); err != nil {
		_ = mem.Close()
		return nil, nil, fmt.Errorf("rewind the copy of %s: %w", f.Name(), err)
	}
	return mem, h.Sum(nil), nil
}
