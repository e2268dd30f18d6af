package restic

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// readInterval is how often watchReads looks at the process's I/O.
const readInterval = time.Second

// watchReads calls fn with the bytes process pid has read (rchar in
// /proc/PID/io), from its own goroutine, every readInterval in which the
// figure grew, until the returned stop is called.
func watchReads(pid int, fn func(int64)) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(readInterval)
		defer t.Stop()
		var last int64
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			n, err := readChars(pid)
			if err != nil {
				return // the process is gone
			}
			if n > last {
				last = n
				fn(n)
			}
		}
	}()
	return func() { close(quit); <-done }
}

// readChars is rchar from /proc/PID/io: the bytes the process read,
// from files, pipes and sockets alike.
func readChars(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("rchar:")); ok {
			return strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		}
	}
	return 0, fmt.Errorf("no rchar in /proc/%d/io", pid)
}

// freeBytes is the space an unprivileged user may still write on the
// filesystem holding path, or -1 when it cannot be told.
func freeBytes(path string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return -1
	}
	return int64(st.Bavail) * st.Bsize
}

// lowerPriority raises the nice value of every thread of process group
// pgid (a tool proc.Tool started, its PID) to nice; threads created later
// inherit it. It is a hint: an error (the tool has already exited) is
// ignored.
func lowerPriority(pgid, nice int) {
	_ = syscall.Setpriority(syscall.PRIO_PGRP, pgid, nice)
}
