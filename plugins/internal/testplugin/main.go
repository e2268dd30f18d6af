// Command testplugin is a backend plugin for the protocol's tests, run as a
// real process. Its behaviour is fixed when it is built:
//
//	go build -ldflags "-X main.mode=MODE" ./plugins/internal/testplugin
//
// Modes:
//
//	ok         serves testbackend (3 files per point, with digests; reports
//	           its environment in RestoreResponse.Details["environ"])
//	crash      like ok, but kills itself with SIGKILL mid-restore, right
//	           after reporting its first file
//	hang       Restore blocks forever, ignoring its context
//	protocol2  serves with protocol version 2 instead of plugins.ProtocolVersion
//	garbage    prints random bytes on stdout instead of the handshake line
//	corrupt    like ok, but right after reporting its first file it writes
//	           random bytes into its gRPC connection (under TLS) and on its
//	           real stdout, then blocks, as a plugin whose memory went bad would
package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/testbackend"
	"github.com/hashicorp/go-plugin"
)

// mode is set with -ldflags "-X main.mode=...".
var mode = "ok"

func main() {
	b := &testbackend.Backend{Logger: plugins.PluginLogger(), Environ: true}
	switch mode {
	case "ok":
	case "crash":
		b.AfterFirstFile = func() {
			// Give the reported file time to reach the host (gRPC's Send
			// only queues it), so the test can check it arrived.
			time.Sleep(200 * time.Millisecond)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	case "hang":
		b.Hang = true
	case "corrupt":
		b.AfterFirstFile = func() {
			time.Sleep(200 * time.Millisecond) // let the file reach the host
			garbage := make([]byte, 4096)
			_, _ = rand.Read(garbage)
			_, _ = syscall.Write(1, garbage) // go-plugin replaced os.Stdout, not fd 1
			for _, fd := range connectedSockets() {
				_, _ = syscall.Write(fd, garbage)
			}
			time.Sleep(time.Minute) // the host must notice by itself
		}
	case "protocol2":
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: plugin.HandshakeConfig{
				ProtocolVersion:  2,
				MagicCookieKey:   plugins.MagicCookieKey,
				MagicCookieValue: plugins.MagicCookieValue,
			},
			Plugins:    plugin.PluginSet{plugins.PluginName: &plugins.GRPCPlugin{Impl: b}},
			GRPCServer: plugin.DefaultGRPCServer,
		})
		return
	case "garbage":
		garbage := make([]byte, 64)
		_, _ = rand.Read(garbage)
		for i, c := range garbage {
			if c == '\n' || c == '|' {
				garbage[i] = '?'
			}
		}
		_, _ = os.Stdout.Write(append(garbage, '\n'))
		time.Sleep(time.Minute)
		return
	default:
		fmt.Fprintf(os.Stderr, "testplugin: unknown mode %q\n", mode)
		os.Exit(2)
	}
	plugins.Serve(b)
}

// connectedSockets returns the descriptors of the process's connected
// sockets: the gRPC connection from the host (the listener is not
// connected).
func connectedSockets() []int {
	ents, _ := os.ReadDir("/proc/self/fd")
	var fds []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, _ := os.Readlink("/proc/self/fd/" + e.Name()); !strings.HasPrefix(link, "socket:") {
			continue
		}
		if _, err := syscall.Getpeername(fd); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds
}
