package plugintest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Running returns the PIDs of the live processes whose command line is
// exactly argv, from /proc (nil where there is none); zombies (dead, not
// yet reaped) do not count. Tests use it to check that nothing a drill
// started outlived it.
func Running(argv ...string) []int {
	want := []byte(strings.Join(argv, "\x00") + "\x00")
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		cl, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !bytes.Equal(cl, want) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if i := bytes.LastIndexByte(stat, ')'); err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		pids = append(pids, pid)
	}
	return pids
}
