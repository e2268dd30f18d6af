package evidence

import (
	"encoding/json"
	"testing"
	"time"
)

func TestScratchRecords(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 0)
	s, err := Open(path, Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	src := json.RawMessage(`{"dump":"/b/*.dump","server":"postgres://drill@db/postgres"}`)
	for i, name := range []string{"drill_b_000000000002", "drill_b_000000000001"} {
		if err := s.NoteScratch(Scratch{Name: name, Drill: "b", Backend: "postgres", Source: src, Created: testTime.Add(-time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	left, err := s.ScratchLeft()
	if err != nil || len(left) != 2 || left[0].Name != "drill_b_000000000001" || string(left[0].Source) != string(src) {
		t.Fatalf("ScratchLeft = %+v, %v", left, err)
	}
	if err := s.ScratchDone("postgres", "drill_b_000000000001"); err != nil {
		t.Fatal(err)
	}
	if left, _ := s.ScratchLeft(); len(left) != 1 || left[0].Name != "drill_b_000000000002" {
		t.Errorf("after ScratchDone: %+v", left)
	}
}
