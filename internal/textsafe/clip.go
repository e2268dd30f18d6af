package textsafe

import "unicode/utf8"

// Clip shortens a message to at most n bytes, on a rune boundary, marking
// the cut with "…": tool output quoted in a reason stays readable.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
