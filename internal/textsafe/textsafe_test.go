package textsafe

import "testing"

func TestEscape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text, with \\ and ü", "plain text, with \\ and ü"},
		{"", ""},
		{"a\tb\nc\rd", `a\tb\nc\rd`},
		{"\x1b[2J\x1b[1;1Hverified", `\x1b[2J\x1b[1;1Hverified`},
		{"del\x7f nul\x00", `del\x7f nul\x00`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"bidi \u202eevil\u202c", `bidi \u202eevil\u202c`},
		{"isolate \u2066x\u2069 \u200f", `isolate \u2066x\u2069 \u200f`},
		{"bad utf8 \xff\xfe", `bad utf8 \xff\xfe`},
		{"table \"t\x1b]0;title\x07\"", `table "t\x1b]0;title\x07"`},
	} {
		got := Escape(tc.in)
		if got != tc.want {
			t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if again := Escape(got); again != got {
			t.Errorf("Escape is not stable on %q: %q", got, again)
		}
		if Safe(got) != true {
			t.Errorf("Safe(Escape(%q)) = false", tc.in)
		}
		if Safe(tc.in) != (tc.in == tc.want) {
			t.Errorf("Safe(%q) = %v", tc.in, Safe(tc.in))
		}
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"x", "\x1b[0m", "\u202e", "\xff", "a\nb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Escape(s)
		if !Safe(got) {
			t.Fatalf("Escape(%q) = %q is not safe", s, got)
		}
		if Escape(got) != got {
			t.Fatalf("Escape not stable on %q", got)
		}
	})
}
