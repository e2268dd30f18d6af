package dbcheck

import (
	"errors"
	"strings"
	"testing"
)

func TestScratchName(t *testing.T) {
	n := ScratchName("Billing-DB.nightly", 63)
	if !strings.HasPrefix(n, "drill_billing_db_nightly_") || !IsScratchName(n) || len(n) != len("drill_billing_db_nightly_")+12 {
		t.Errorf("ScratchName = %q", n)
	}
	long := ScratchName(strings.Repeat("x", 100), 63)
	if len(long) != 63 || !IsScratchName(long) {
		t.Errorf("long name %q (%d bytes)", long, len(long))
	}
	if a, b := ScratchName("a", 63), ScratchName("a", 63); a == b {
		t.Error("two scratch names are equal")
	}
	for _, bad := range []string{"billing", "drill_x", "drill_x_12345678901z", "drill_x-123456789012"} {
		if IsScratchName(bad) {
			t.Errorf("IsScratchName(%q) = true", bad)
		}
	}
}

func TestExpect(t *testing.T) {
	for _, tc := range []struct {
		expect, got string
		valid, ok   bool
	}{
		{">= 1", "1523", true, true},
		{">= 1", "0", true, false},
		{"= 0", "0", true, true},
		{"= 0", "0.0", true, true},
		{"!= ''", "x", true, true},
		{"!= ''", "", true, false},
		{"= 'it''s'", "it's", true, true},
		{"< 2.5", "2.4", true, true},
		{"> 3", "abc", true, false},
		{"= 1", "", false, false},
	} {
		e, err := ParseExpect(tc.expect)
		if err != nil {
			t.Fatalf("%q: %v", tc.expect, err)
		}
		if ok, detail := e.Match(tc.got, tc.valid); ok != tc.ok {
			t.Errorf("%q against %q: %v (%s), want %v", tc.expect, tc.got, ok, detail, tc.ok)
		}
	}
	for _, bad := range []string{"1", ">=", "= abc", "~ 1", ""} {
		if _, err := ParseExpect(bad); err == nil {
			t.Errorf("ParseExpect(%q) accepted", bad)
		}
	}
}

func TestScratchRegistry(t *testing.T) {
	var sc Scratch[string]
	a, b := ScratchName("a", 63), ScratchName("b", 63)
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

func TestNamedByWholeQuery(t *testing.T) {
	long := "select count(*) from invoices where customer in (select id from customers where name = 'Grace')"
	for _, tt := range []struct {
		name, query string
		want        bool
	}{
		{"select count(*) from t", "select count(*) from t", true},
		{"select count(*) from t", "select count(*)\n  from t", true},
		{"select count(*) from t #2", "select count(*) from t", true},
		{"select count(*) from t #x", "select count(*) from t", false},
		{"rows", "select count(*) from t", false},
		{QueryName(long), long, false},
		{QueryName(long) + " #2", long, false},
		{QueryName("select '\x1b[2J'"), "select '\x1b[2J'", true},
	} {
		if got := NamedByWholeQuery(tt.name, tt.query); got != tt.want {
			t.Errorf("NamedByWholeQuery(%q, %q) = %v, want %v", tt.name, tt.query, got, tt.want)
		}
	}
}
