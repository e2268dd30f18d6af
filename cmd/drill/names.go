package main

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/textsafe"
)

// maxListed is how many drill names an "unknown drill" error lists.
const maxListed = 20

// unknownDrill says that cfg defines no drill called name, and which
// drills it does define, the closest to name first: a typo is answered
// with the name that was meant.
func unknownDrill(cfg *config.Config, name string) error {
	esc := textsafe.Escape(name)
	known := cfg.DrillNames()
	if len(known) == 0 {
		return fmt.Errorf("unknown drill %q: %s defines no drills; drill init -o FILE TARGET... proposes them from your backups", esc, cfg.Path)
	}
	dist := make(map[string]int, len(known))
	for _, k := range known {
		dist[k] = likeness(name, k)
	}
	slices.SortStableFunc(known, func(a, b string) int { return cmp.Compare(dist[a], dist[b]) })
	msg := fmt.Sprintf("unknown drill %q", esc)
	if best := known[0]; dist[best] <= max(2, len(best)/4) {
		msg += fmt.Sprintf("; did you mean %s?", best)
	}
	return errors.New(msg + " " + drillList(cfg.Path, known))
}

// drillList is "The drills in FILE: a, b, c", with at most maxListed names.
func drillList(path string, known []string) string {
	list := known
	if len(list) > maxListed {
		list = list[:maxListed]
	}
	msg := fmt.Sprintf("The drills in %s: %s", path, strings.Join(list, ", "))
	if more := len(known) - len(list); more > 0 {
		msg += fmt.Sprintf(" and %d more (drill list shows them all)", more)
	}
	return msg
}

// likeness is how far known is from name, as the edit distance, except
// that a name cut short or with something added at the end (billing for
// billing-db) counts as one typo.
func likeness(name, known string) int {
	if len(name) >= 3 && strings.HasPrefix(known, name) || len(known) >= 3 && strings.HasPrefix(name, known) {
		return 1
	}
	return editDistance(name, known)
}

// editDistance is the Levenshtein distance between a and b, in bytes
// (drill names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
