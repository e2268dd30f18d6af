package config

import "fmt"

// CheckName returns an error saying the rule when s cannot name a
// service, drill or plugin, for commands that take a name from the
// command line before any config exists (drill init --service).
func CheckName(s string) error {
	if nameRE.MatchString(s) {
		return nil
	}
	return fmt.Errorf("invalid name %q: %s", s, nameRule)
}
