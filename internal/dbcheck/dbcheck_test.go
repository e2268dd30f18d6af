package dbcheck

import (
	"testing"
)

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
