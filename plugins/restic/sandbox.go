package restic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/proc"
)

var _ plugins.Confiner = (*Backend)(nil)

// passwordCommandTimeout bounds a password_command run before confinement.
const passwordCommandTimeout = time.Minute

// maxPasswordOutput bounds what a password_command prints that is kept.
const maxPasswordOutput = 1 << 20

// Sandbox implements plugins.Confiner. The restic backend needs, once
// confined: a local repository read-only, but for its locks folder, where
// restic writes the non-exclusive lock that keeps a concurrent prune from
// deleting what is being restored (the narrowest that keeps restic's
// locking: --no-lock would let a prune pull packs from under the restore);
// the password file and env files; the restic executable; and for a remote
// repository the TCP port of its server (and ssh or rclone, which restic
// starts for sftp: and rclone:). restic's cache is off (--no-cache); its
// temporary files go to TMPDIR, inside scratch.
//
// A password_command runs here, before confinement, because it may need
// what the sandbox denies (a secrets agent, a vault CLI, the network); its
// output is kept in memory and reaches restic through an inherited pipe,
// as a password file's does, never through the environment or arguments.
func (b *Backend) Sandbox(ctx context.Context, req *plugins.SandboxRequest) (*plugins.SandboxNeeds, error) {
	s, probs := parseSource(req.Source)
	if len(probs) > 0 {
		return nil, fmt.Errorf("invalid source: %s", probs[0].Message)
	}
	needs := &plugins.SandboxNeeds{}
	tools := []string{s.binary}
	if s.passwordFile != "" {
		needs.Read = append(needs.Read, s.passwordFile)
	}
	for _, e := range s.env {
		needs.Read = append(needs.Read, e[1])
	}
	repo := s.repo
	switch scheme, rest, _ := strings.Cut(repo, ":"); {
	case isLocal(repo):
		// A relative path is relative to the plugin's working folder, as
		// restic takes it.
		dir, err := filepath.Abs(strings.TrimPrefix(repo, "local:"))
		if err != nil {
			return nil, fmt.Errorf("repository %s: %w", s.repoName(), err)
		}
		needs.Read = append(needs.Read, dir)
		needs.Write = append(needs.Write, filepath.Join(dir, "locks"))
	case scheme == "rest":
		needs.ConnectTCP = append(needs.ConnectTCP, plugins.URLPort(rest, schemePort(rest)))
	case scheme == "s3" && strings.Contains(rest, "://"):
		needs.ConnectTCP = append(needs.ConnectTCP, plugins.URLPort(rest, schemePort(rest)))
	case scheme == "sftp":
		tools = append(tools, "ssh")
		port := uint16(22)
		if strings.HasPrefix(rest, "//") {
			port = plugins.URLPort("sftp:"+rest, 22)
		}
		needs.ConnectTCP = append(needs.ConnectTCP, port)
	case scheme == "rclone":
		tools = append(tools, "rclone")
		needs.ConnectTCP = append(needs.ConnectTCP, 443)
	default: // s3 without a URL, azure, gs, b2, swift: HTTPS
		needs.ConnectTCP = append(needs.ConnectTCP, 443)
	}
	for _, t := range tools {
		if exe, err := plugins.ResolveTool(t); err == nil {
			needs.Exec = append(needs.Exec, exe...)
		}
	}
	if s.passwordCmd != "" {
		pw, err := runPasswordCommand(ctx, s.passwordCmd)
		if err != nil {
			return nil, fmt.Errorf("password_command of repository %s: %w", s.repoName(), err)
		}
		b.mu.Lock()
		if b.passwords == nil {
			b.passwords = map[string][]byte{}
		}
		b.passwords[s.passwordCmd] = pw
		b.mu.Unlock()
	}
	return needs, nil
}

// schemePort is 80 for an http:// URL, else 443.
func schemePort(u string) uint16 {
	if strings.HasPrefix(u, "http://") {
		return 80
	}
	return 443
}

// withPassword gives s the output of its password_command when Sandbox
// ran it, so restic gets it through a pipe instead of running the command
// itself (inside the sandbox, where it may not work).
func (b *Backend) withPassword(s *source) *source {
	if s.passwordCmd == "" {
		return s
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if pw, ok := b.passwords[s.passwordCmd]; ok {
		s.cmdPassword = pw
	}
	return s
}

// runPasswordCommand runs a password_command as restic would (split into
// words, no shell) and returns what it printed. Its stderr is not kept: it
// might echo the secret.
func runPasswordCommand(ctx context.Context, command string) ([]byte, error) {
	args, err := splitWords(command)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, errors.New("the command is empty")
	}
	ctx, cancel := context.WithTimeout(ctx, passwordCommandTimeout)
	defer cancel()
	tool := &proc.Tool{Path: args[0], Args: args[1:], Env: os.Environ(), Grace: 5 * time.Second,
		StdoutMax: maxPasswordOutput, Stderr: func(io.Reader) {}}
	res, err := tool.Run(ctx)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", args[0], err)
	}
	if !res.OK() {
		return nil, fmt.Errorf("%s: %w", args[0], res.Err)
	}
	if len(res.Stdout) >= maxPasswordOutput {
		// Cut, it would be a wrong password, and restic's error would not
		// say why.
		return nil, fmt.Errorf("%s printed %d bytes or more: that is not a password", args[0], maxPasswordOutput)
	}
	pw := bytes.TrimRight(res.Stdout, "\r\n")
	if len(pw) == 0 {
		return nil, fmt.Errorf("%s printed no password", args[0])
	}
	return pw, nil
}

// splitWords splits a command line into words as a shell would, honouring
// single and double quotes and backslashes, without expanding anything.
func splitWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				w.WriteByte(c)
			}
		case quote == '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0:
				i++
				w.WriteByte(s[i])
			default:
				w.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '\\' && i+1 < len(s):
			i++
			w.WriteByte(s[i])
			inWord = true
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// isLocal reports whether restic takes repo for a local folder: an
// absolute path, local:PATH, or anything without a scheme.
func isLocal(repo string) bool {
	scheme, _, _ := strings.Cut(repo, ":")
	return filepath.IsAbs(repo) || scheme == "local" || !strings.Contains(repo, ":")
}
