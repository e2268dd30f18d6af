package evidence

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/keys"
)

func TestZZBuild(t *testing.T) {
	dir := os.Getenv("ZZDIR")
	if dir == "" {
		t.Skip()
	}
	key, err := keys.LoadOrCreate(filepath.Join(dir, "keys"), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "drill.db")
	s, err := Open(path, Options{Origin: testOrigin, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, _ := s.Size(); n == 0 {
		for b := 0; b < 100; b++ {
			var recs []*Record
			for i := 0; i < 1000; i++ {
				recs = append(recs, testRecord(b*1000+i, verdictFor(i)))
			}
			if _, err := s.AppendBatch(recs); err != nil {
				t.Fatal(err)
			}
		}
	}
	start := time.Now()
	_, err = s.Verify(context.Background())
	t.Log(time.Since(start), err)
}
