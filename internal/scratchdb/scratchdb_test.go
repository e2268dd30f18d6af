package scratchdb

import (
	"errors"
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	n := Name("Billing-DB.nightly", 63)
	if !strings.HasPrefix(n, "drill_billing_db_nightly_") || !IsName(n) || len(n) != len("drill_billing_db_nightly_")+12 {
		t.Errorf("Name = %q", n)
	}
	long := Name(strings.Repeat("x", 100), 63)
	if len(long) != 63 || !IsName(long) {
		t.Errorf("long name %q (%d bytes)", long, len(long))
	}
	if a, b := Name("a", 63), Name("a", 63); a == b {
		t.Error("two scratch names are equal")
	}
	for _, bad := range []string{"billing", "drill_x", "drill_x_12345678901z", "drill_x-123456789012"} {
		if IsName(bad) {
			t.Errorf("IsName(%q) = true", bad)
		}
	}
}

func TestRegistry(t *testing.T) {
	var sc Registry[string]
	a, b := Name("a", 63), Name("b", 63)
	sc.Remember(a, "srv1")
	sc.Remember(b, "srv2")
	sc.Remember("production", "srv1") // not a scratch name: never dropped
	var dropped []string
	fail := true
	err := sc.Drop(func(name, server string) error {
		dropped = append(dropped, name+"@"+server)
		if name == b && fail {
			return errors.New("server gone")
		}
		return nil
	})
	if err == nil || len(dropped) != 2 {
		t.Fatalf("first Drop: %v, dropped %v", err, dropped)
	}
	dropped, fail = nil, false
	if err := sc.Drop(func(name, server string) error { dropped = append(dropped, name+"@"+server); return nil }); err != nil || len(dropped) != 1 || dropped[0] != b+"@srv2" {
		t.Errorf("second Drop retries only the failed one: %v, %v", dropped, err)
	}
	if err := sc.Drop(func(name, _ string) error { t.Errorf("dropped %s again", name); return nil }); err != nil {
		t.Error(err)
	}
}
