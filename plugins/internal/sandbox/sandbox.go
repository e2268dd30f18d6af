// Package sandbox confines the current process, all its threads and every
// process it starts afterwards, with Landlock. It is the one place that
// imports go-landlock: the plugin glue (package plugins) merges a backend's
// needs (plugins.Confiner) with Base and calls Apply.
//
// What Apply restricts depends on the kernel's Landlock ABI: filesystem
// access from ABI 1 (file reparenting from 2, truncation from 3, device
// ioctls from 5), TCP bind and connect from ABI 4, signals and abstract
// unix sockets from ABI 6. drill asks for at most ABI 7's rights: later
// ABIs restrict UDP and pathname unix sockets, which the tools need for
// name resolution and local servers. On a kernel without Landlock, or with
// it disabled at boot, Apply confines nothing and says so; the caller
// records that (docs/sandbox.md).
package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// DisableEnv is the environment variable that, set to "off" in a plugin's
// environment, makes Apply confine nothing (and say so). It exists for
// tests of the unconfined path (require_sandbox) and for measuring the cost
// of confinement; the host passes it on to plugins only when it is set in
// its own environment.
const DisableEnv = "DRILL_SANDBOX"

// maxABI is the highest Landlock ABI whose rights drill asks for.
const maxABI = 7

// Policy is what a confined process may still do: everything else on the
// filesystem, TCP connect and bind, signals and abstract unix sockets to
// processes outside it are denied.
type Policy struct {
	// Read are files and directories (with everything below them) the
	// process may read, not execute.
	Read []string
	// Exec are executables the process may read and execute: the tools it
	// runs and the dynamic loader.
	Exec []string
	// Write are files and directories the process may read and write
	// (create, remove, rename within), not execute.
	Write []string
	// Dev are device files the process may read and write (/dev/null).
	Dev []string
	// ConnectTCP are the TCP ports the process may connect to. It may bind
	// none.
	ConnectTCP []uint16
}

// Merge returns p with q's entries added.
func (p Policy) Merge(q Policy) Policy {
	return Policy{
		Read:       append(slices.Clip(p.Read), q.Read...),
		Exec:       append(slices.Clip(p.Exec), q.Exec...),
		Write:      append(slices.Clip(p.Write), q.Write...),
		Dev:        append(slices.Clip(p.Dev), q.Dev...),
		ConnectTCP: append(slices.Clip(p.ConnectTCP), q.ConnectTCP...),
	}
}

// Base is the policy every plugin process gets before its backend's needs:
// reading (not executing) the system's code and data, a few named files of
// /etc that name resolution, TLS and the client tools read, /proc (Landlock
// keeps other processes' environ and memory out: they need ptrace access,
// which a confined process has only to its own children), executing the
// dynamic loader, and /dev/null.
func Base() Policy {
	return Policy{
		Read: []string{
			"/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin",
			"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
			"/etc/nsswitch.conf", "/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf",
			"/etc/host.conf", "/etc/gai.conf", "/etc/services", "/etc/protocols",
			"/etc/ssl", "/etc/ca-certificates", "/etc/ca-certificates.conf", "/etc/pki",
			"/etc/crypto-policies", "/etc/gss", "/etc/krb5.conf",
			"/proc", "/sys/fs/cgroup", "/sys/devices/system/cpu", "/sys/kernel/mm/transparent_hugepage",
			"/dev/urandom", "/dev/random", "/dev/zero",
		},
		Exec: loaders(),
		Dev:  []string{"/dev/null"},
	}
}

// loaders are the dynamic loaders of this machine, as real files (the
// kernel opens the interpreter of a dynamic executable for execution).
func loaders() []string {
	var out []string
	for _, pat := range []string{"/lib64/ld-linux*.so*", "/lib/ld-linux*.so*", "/lib/*/ld-linux*.so*", "/lib/ld-musl-*.so*"} {
		ms, _ := filepath.Glob(pat)
		for _, m := range ms {
			if r, err := filepath.EvalSymlinks(m); err == nil && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// Result is the confinement in force after Apply.
type Result struct {
	// ABI is the Landlock ABI whose rights are enforced; 0: none.
	ABI int
	// Filesystem, Network and Scoped say what is restricted: filesystem
	// access, TCP connect and bind, signals and abstract unix sockets.
	Filesystem, Network, Scoped bool
	// Summary says it in a few words, such as "landlock ABI 7: filesystem,
	// tcp, signal and abstract unix socket scoped" or "none: kernel has no
	// Landlock (ENOSYS)".
	Summary string
}

// Detect returns the kernel's Landlock ABI version, or 0 and why there is
// none.
func Detect() (int, string) {
	v, err := ll.LandlockGetABIVersion()
	switch {
	case errors.Is(err, syscall.ENOSYS):
		return 0, "kernel has no Landlock (ENOSYS)"
	case errors.Is(err, syscall.EOPNOTSUPP):
		return 0, "Landlock is disabled at boot (EOPNOTSUPP; add landlock to the lsm= kernel parameter)"
	case err != nil:
		return 0, fmt.Sprintf("Landlock ABI unknown: %v", err)
	case v < 1:
		return 0, fmt.Sprintf("kernel reports Landlock ABI %d", v)
	}
	return v, ""
}

// Apply confines the calling process and all its threads to p, with the
// rights of the kernel's Landlock ABI (at most ABI 7), and every process it
// starts from then on. Paths that do not exist are left out. It is
// irreversible. Without Landlock it returns a Result with ABI 0 and no
// error; an error means Landlock is there but the policy could not be
// applied (the process is then unconfined).
func Apply(p Policy) (Result, error) {
	if v := os.Getenv(DisableEnv); v == "off" {
		return Result{Summary: "none: disabled by " + DisableEnv + "=off (a switch for tests and measurements)"}, nil
	}
	abi, why := Detect()
	if abi == 0 {
		return Result{Summary: "none: " + why}, nil
	}
	abi = min(abi, maxABI)
	cfg := configs[abi]
	fs := landlock.AccessFSSet(cfg.HandledAccessFS)

	const (
		fileRead  = ll.AccessFSReadFile
		fileExec  = ll.AccessFSExecute | ll.AccessFSReadFile
		fileWrite = ll.AccessFSReadFile | ll.AccessFSWriteFile | ll.AccessFSTruncate
		dirRead   = ll.AccessFSReadFile | ll.AccessFSReadDir
		dirWrite  = dirRead | ll.AccessFSWriteFile | ll.AccessFSTruncate | ll.AccessFSRemoveDir | ll.AccessFSRemoveFile |
			ll.AccessFSMakeDir | ll.AccessFSMakeReg | ll.AccessFSMakeSym | ll.AccessFSMakeFifo | ll.AccessFSMakeSock | ll.AccessFSRefer
	)
	var rules []landlock.Rule
	add := func(paths []string, file, dir landlock.AccessFSSet) {
		for _, path := range paths {
			if path == "" || !filepath.IsAbs(path) {
				continue
			}
			fi, err := os.Stat(path)
			if err != nil {
				continue // missing: nothing to allow
			}
			rights := file
			if fi.IsDir() {
				rights = dir
			}
			rules = append(rules, landlock.PathAccess(rights&fs, path))
		}
	}
	add(p.Read, fileRead, dirRead)
	add(p.Exec, fileExec, fileExec|ll.AccessFSReadDir)
	add(p.Write, fileWrite, dirWrite)
	add(p.Dev, fileWrite|ll.AccessFSIoctlDev, dirRead)
	if abi >= 4 {
		for _, port := range dedup(p.ConnectTCP) {
			rules = append(rules, landlock.ConnectTCP(port))
		}
	}
	if err := cfg.Restrict(rules...); err != nil {
		return Result{Summary: "none: Landlock could not be applied"}, fmt.Errorf("apply Landlock ABI %d: %w", abi, err)
	}
	return result(abi), nil
}

// result describes the confinement of an ABI.
func result(abi int) Result {
	r := Result{ABI: abi, Filesystem: true, Network: abi >= 4, Scoped: abi >= 6}
	parts := []string{"filesystem"}
	if r.Network {
		parts = append(parts, "tcp")
	} else {
		parts = append(parts, "no network rules (ABI 4+)")
	}
	if r.Scoped {
		parts = append(parts, "signal and abstract unix socket scoped")
	} else {
		parts = append(parts, "no signal scoping (ABI 6+)")
	}
	r.Summary = fmt.Sprintf("landlock ABI %d: %s", abi, strings.Join(parts, ", "))
	return r
}

// configs are go-landlock's presets by ABI, used as they are (not in best
// effort mode, which drops every rule when one cannot be granted): Apply
// asks only for what the detected ABI handles.
var configs = map[int]landlock.Config{
	1: landlock.V1, 2: landlock.V2, 3: landlock.V3, 4: landlock.V4,
	5: landlock.V5, 6: landlock.V6, 7: landlock.V7,
}

func dedup(ports []uint16) []uint16 {
	out := slices.Clone(ports)
	slices.Sort(out)
	return slices.Compact(out)
}
