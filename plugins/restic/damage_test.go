package restic

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/drillhq/drill/plugins"
)

// packs returns the repository's pack files, largest first.
func packs(t *testing.T, repo string) []string {
	t.Helper()
	var ps []string
	_ = filepath.Walk(filepath.Join(repo, "data"), func(p string, fi os.FileInfo, err error) error { // fn never stops it
		if err == nil && fi.Mode().IsRegular() {
			ps = append(ps, p)
		}
		return nil
	})
	sort.Slice(ps, func(i, j int) bool {
		a, _ := os.Stat(ps[i])
		b, _ := os.Stat(ps[j])
		return a.Size() > b.Size()
	})
	return ps
}

func only(t *testing.T, dir string) string {
	t.Helper()
	var files []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error { // fn never stops it
		if err == nil && fi.Mode().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Fatalf("no file under %s", dir)
	}
	return files[0]
}

// Damage restic reports only when it reads the data: each case must end
// in a fail problem naming restic's message, never in an error or a clean
// restore. The cases are those observed by hand in the research
// notes on restic 0.18 (section 5 of restic-cli.md), rerun on 0.19.1.
func TestRestoreDamageMatrix(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, repo string)
	}{
		{"deleted data pack", func(t *testing.T, repo string) {
			if err := os.Remove(packs(t, repo)[0]); err != nil {
				t.Fatal(err)
			}
		}},
		{"truncated data pack", func(t *testing.T, repo string) {
			p := packs(t, repo)[0]
			fi, _ := os.Stat(p)
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"flipped byte in a tree pack", func(t *testing.T, repo string) {
			src := plugins.Source{"repository": repo, "password_file": filepath.Join(filepath.Dir(repo), "pw")}
			flipBlob(t, src, largestBlob(t, src, "tree"))
		}},
		{"flipped byte in a data pack", func(t *testing.T, repo string) {
			src := plugins.Source{"repository": repo, "password_file": filepath.Join(filepath.Dir(repo), "pw")}
			flipBlob(t, src, largestBlob(t, src, "data"))
		}},
		{"truncated index", func(t *testing.T, repo string) {
			p := only(t, filepath.Join(repo, "index"))
			fi, _ := os.Stat(p)
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, r, _ := repo(t)
			tc.damage(t, r)
			resp, _, err := restore(t, src)
			if err != nil {
				// An error would make the verdict "error": damage must fail.
				t.Fatalf("damage gave an error, not a fail problem: %v", err)
			}
			var fails []string
			for _, p := range resp.Problems {
				if p.Kind == plugins.ProblemFail {
					fails = append(fails, p.Message)
				}
			}
			if len(fails) == 0 || !strings.Contains(strings.Join(fails, "\n"), "restic") {
				t.Fatalf("damage went unreported: %+v", resp)
			}
			t.Logf("fail: %s", fails[0])
			noLocks(t, r)
		})
	}
}
