package propose

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/drillhq/drill/plugins"
)

// TestDetectLargeZstd: tar --zstd writes blocks larger than any head read
// whole; the archive and a zstd'd SQL dump are still told apart.
func TestDetectLargeZstd(t *testing.T) {
	dir := t.TempDir()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	data := make([]byte, 300<<10)
	_, _ = rand.Read(data)
	_ = tw.WriteHeader(&tar.Header{Name: "photos/big.jpg", Mode: 0o644, Size: int64(len(data))})
	_, _ = tw.Write(data)
	_ = tw.Close()
	write := func(name string, plain []byte) string {
		var zb bytes.Buffer
		zw, _ := zstd.NewWriter(&zb)
		_, _ = zw.Write(plain)
		_ = zw.Close()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, zb.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		path string
		want Kind
	}{
		{write("home.tar.zst", tb.Bytes()), KindArchive},
		{write("shop.sql.zst", []byte("-- MariaDB dump 10.19\n\nCREATE TABLE t (x int);\n")), KindMySQL},
		{write("billing.sql.zst", []byte("--\n-- PostgreSQL database dump\n--\n")), KindPostgres},
	} {
		got, err := Detect(c.path)
		if err != nil || got.Kind != c.want {
			t.Errorf("Detect(%s) = %q, %v; want %q", filepath.Base(c.path), got.Kind, err, c.want)
		}
	}
}

// TestSeries: archives a shell expanded from a glob are one drill of the
// glob; different backups, and a folder named twice, are not merged.
func TestSeries(t *testing.T) {
	dir := t.TempDir()
	touch := func(name string, age time.Duration) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := time.Now().Add(-age)
		_ = os.Chtimes(p, mt, mt)
		return p
	}
	a1, a2, a3 := touch("home-1.tar.gz", 48*time.Hour), touch("home-3.tar.gz", 0), touch("home-2.tar.gz", 24*time.Hour)
	etc := touch("etc.tar.gz", 0)
	copyDir := filepath.Join(dir, "copy")
	ts := []Target{
		{Arg: "b/home-1.tar.gz", Kind: KindArchive, Location: a1, Examined: a1},
		{Arg: "b/home-3.tar.gz", Kind: KindArchive, Location: a2, Examined: a2},
		{Arg: "b/home-2.tar.gz", Kind: KindArchive, Location: a3, Examined: a3},
		{Arg: "b/etc.tar.gz", Kind: KindArchive, Location: etc, Examined: etc},
		{Arg: "copy", Kind: KindCopy, Location: copyDir, Examined: copyDir},
		{Arg: "copy/", Kind: KindCopy, Location: copyDir, Examined: copyDir},
	}
	got := Series(ts)
	var args []string
	for _, g := range got {
		args = append(args, g.Arg)
	}
	if want := []string{"b/home-*.tar.gz", "b/etc.tar.gz", "copy"}; !slices.Equal(args, want) {
		t.Fatalf("Series args = %q, want %q", args, want)
	}
	if got[0].Location != filepath.Join(dir, "home-*.tar.gz") || got[0].Examined != a2 || got[0].Note == "" {
		t.Errorf("merged series = %+v, want the glob, examined at the newest (home-3), with a note", got[0])
	}
	if got[2].Note != "" {
		t.Errorf("a folder named twice is no series: note %q", got[2].Note)
	}
}

func TestDrillName(t *testing.T) {
	for _, c := range []struct {
		loc  string
		kind Kind
		want string
	}{
		{"/b/i18n-cp", KindCopy, "i18n-cp"},
		{"/b/daily.0", KindCopy, "daily.0"},
		{"/b/home-*-*-*.tar.gz", KindArchive, "home"},
		{"/b/Shop DB.sql.zst", KindMySQL, "shop-db"},
		{"/b/***.tar", KindArchive, "archive"},
	} {
		if got := drillName(Target{Location: c.loc, Kind: c.kind}); got != c.want {
			t.Errorf("drillName(%s) = %q, want %q", c.loc, got, c.want)
		}
	}
}

// TestSnapshotSets: the snapshots of two hosts, and of two paths on one
// host, in one repository are one set each, the restored one's first; a
// set whose paths another set of its host also backs up has no path of
// its own.
func TestSnapshotSets(t *testing.T) {
	pt := func(id, desc string) plugins.RestorePoint {
		return plugins.RestorePoint{ID: id, Description: desc}
	}
	points := []plugins.RestorePoint{
		pt("4", "snapshot 4 of h2:/srv/a,/srv/b [nightly]"),
		pt("3", "snapshot 3 of h1:/srv/a"),
		pt("2", "snapshot 2 of h1:/srv/a"),
		pt("1", "snapshot 1 of h1:/srv/a,/srv/c"),
	}
	sets := snapshotSets(points, points[1])
	if len(sets) != 3 || sets[0].host != "h1" || len(sets[0].points) != 2 || !slices.Equal(sets[1].paths, []string{"/srv/a", "/srv/b"}) {
		t.Fatalf("sets = %+v", sets)
	}
	if got := ownPath(sets[2], sets); got != "/srv/c" {
		t.Errorf("ownPath(h1:/srv/a,/srv/c) = %q, want /srv/c", got)
	}
	if got := ownPath(sets[0], sets); got != "" {
		t.Errorf("ownPath(h1:/srv/a) = %q, want none (h1 backs /srv/a up in two jobs)", got)
	}
	if snapshotSets([]plugins.RestorePoint{pt("x", "archive.tar")}, plugins.RestorePoint{}) != nil {
		t.Error("a description that is not a snapshot's gave sets")
	}
}
