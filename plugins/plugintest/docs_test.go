package plugintest_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/filesystem"
	"github.com/drillhq/drill/plugins/mysql"
	"github.com/drillhq/drill/plugins/postgres"
	"github.com/drillhq/drill/plugins/restic"
)

// TestREADMEBackendKeys: the README's table of backends names exactly the
// source keys each built-in backend declares (its tagged source struct, as
// Describe returns it).
func TestREADMEBackendKeys(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	// Backticked words of the "source keys" column that are not keys.
	notKeys := map[string]bool{"latest": true}
	word := regexp.MustCompile("`([a-z][a-z0-9_]*)`")
	for _, b := range []plugins.Backend{filesystem.New(), restic.New(), postgres.New(), mysql.New()} {
		d, err := b.Describe(t.Context(), &plugins.DescribeRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var documented []string
		for line := range strings.SplitSeq(string(readme), "\n") {
			cells := strings.Split(strings.ReplaceAll(line, `\|`, " "), "|")
			if len(cells) < 4 || strings.TrimSpace(cells[1]) != "`"+d.Name+"`" {
				continue
			}
			for _, m := range word.FindAllStringSubmatch(cells[2], -1) {
				if !notKeys[m[1]] && !slices.Contains(documented, m[1]) {
					documented = append(documented, m[1])
				}
			}
		}
		var declared []string
		for _, k := range d.SourceKeys {
			declared = append(declared, k.Name)
		}
		slices.Sort(documented)
		slices.Sort(declared)
		if !slices.Equal(documented, declared) {
			t.Errorf("README's backend table names the %s keys %q; the backend declares %q", d.Name, documented, declared)
		}
	}
}
