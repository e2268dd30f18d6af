// Package schedule parses the cron schedules on which drills run. It is the
// only package that imports github.com/robfig/cron/v3, so the rest of drill
// sees a one-method interface and plain errors.
//
// A spec is one of:
//
//   - five fields, "minute hour day-of-month month day-of-week", as in
//     crontab(5): "30 3 * * *", "0 */6 * * 1-5";
//   - a descriptor: @yearly (or @annually), @monthly, @weekly, @daily (or
//     @midnight), @hourly;
//   - "@every DURATION" with a Go duration of at least one second:
//     "@every 1h30m";
//
// optionally preceded by a time zone, "CRON_TZ=Europe/Berlin 30 3 * * *"
// (TZ= is accepted too). Without a zone the schedule follows the local time
// of the host.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/robfig/cron/v3"
)

// Schedule tells when a drill runs next.
type Schedule interface {
	// Next returns the first activation strictly after t, in t's location.
	// It returns the zero time when there is none within five years.
	Next(t time.Time) time.Time
}

// fieldNames names the five fields of a spec, in order.
var fieldNames = [5]string{"minute", "hour", "day-of-month", "month", "day-of-week"}

// descriptors are the @ names accepted besides @every.
var descriptors = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

const want = "want five fields (minute hour day-of-month month day-of-week), a descriptor such as @daily, or @every 1h"

// Parse parses a schedule spec as described in the package comment. Its
// errors say what is wrong with the spec, without repeating the spec itself.
func Parse(spec string) (Schedule, error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		return nil, errors.New("empty schedule: " + want)
	}

	var zone, body string
	body = s
	if prefix, rest, ok := cutZonePrefix(s); ok {
		i := strings.IndexFunc(rest, unicode.IsSpace)
		if i < 0 {
			return nil, fmt.Errorf("%s%s is not followed by a schedule", prefix, rest)
		}
		zone, body = rest[:i], strings.TrimSpace(rest[i:])
		if zone == "" {
			return nil, fmt.Errorf("empty time zone after %s (want a name such as UTC or Europe/Berlin)", prefix)
		}
		if _, err := time.LoadLocation(zone); err != nil {
			return nil, fmt.Errorf("unknown time zone %q (want a name such as UTC or Europe/Berlin)", zone)
		}
	}

	if strings.HasPrefix(body, "@") {
		if err := checkDescriptor(body); err != nil {
			return nil, err
		}
	} else if err := checkFields(body); err != nil {
		return nil, err
	}

	// The zone prefix is rebuilt with a single space: cron splits it off at
	// the first space, and would misread a tab.
	full := body
	if zone != "" {
		full = "CRON_TZ=" + zone + " " + body
	}
	sched, err := parser().Parse(full)
	if err != nil {
		return nil, fmt.Errorf("%v", err) //nolint:errorlint // robfig/cron's errors stay behind this package
	}
	if spec, ok := sched.(*cron.SpecSchedule); ok {
		// Impossible dates such as "0 0 30 2 *" never fire; cron would
		// quietly return the zero time for every Next. Five years from
		// 2001 include a 29 February.
		if spec.Next(time.Date(2001, 1, 1, 0, 0, 0, 0, spec.Location)).IsZero() {
			return nil, errors.New("never fires: no such date")
		}
	}
	return sched, nil
}

func parser() cron.Parser {
	return cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
}

// cutZonePrefix splits "CRON_TZ=" or "TZ=" off s.
func cutZonePrefix(s string) (prefix, rest string, ok bool) {
	for _, p := range []string{"CRON_TZ=", "TZ="} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return p, rest, true
		}
	}
	return "", "", false
}

// checkDescriptor checks an @ spec before cron sees it, so that the errors
// list what is allowed and "@every" refuses what cron would round up to
// one second.
func checkDescriptor(body string) error {
	if arg, ok := strings.CutPrefix(body, "@every"); ok && (arg == "" || unicode.IsSpace(rune(arg[0]))) {
		arg = strings.TrimSpace(arg)
		if arg == "" {
			return errors.New("@every needs a duration such as 1h30m")
		}
		d, err := time.ParseDuration(arg)
		if err != nil {
			return fmt.Errorf("@every: invalid duration %q (want a Go duration such as 90m or 1h30m)", arg)
		}
		if d < time.Second || d%time.Second != 0 {
			return fmt.Errorf("@every: duration %s must be a whole number of seconds, at least 1s", d)
		}
		return nil
	}
	for _, d := range descriptors {
		if body == d {
			return nil
		}
	}
	return fmt.Errorf("unknown descriptor %q (allowed: %s, @every DURATION)", body, strings.Join(descriptors, ", "))
}

// checkFields checks the five fields one at a time, so that the error names
// the field that is wrong.
func checkFields(body string) error {
	fields := strings.Fields(body)
	if len(fields) != len(fieldNames) {
		msg := fmt.Sprintf("found %d fields: %s", len(fields), want)
		if len(fields) == 6 {
			msg += " (a seconds field is not supported)"
		}
		return errors.New(msg)
	}
	p := parser()
	var errs []string
	for i, f := range fields {
		probe := []string{"*", "*", "*", "*", "*"}
		probe[i] = f
		if _, err := p.Parse(strings.Join(probe, " ")); err != nil {
			errs = append(errs, fmt.Sprintf("%s field %q: %s", fieldNames[i], f, fieldProblem(i, err)))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// fieldProblem rewords cron's error for field i without the field's text,
// which the caller has already quoted.
func fieldProblem(i int, err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "failed to parse int from") {
		switch fieldNames[i] {
		case "month":
			return "want numbers 1-12 or names jan-dec, with , - * and /"
		case "day-of-week":
			return "want numbers 0-6 (0 is Sunday) or names sun-sat, with , - * and /"
		}
		return "want numbers, with , - * and /"
	}
	// cron ends most messages with ": " and the offending text.
	if j := strings.LastIndex(msg, ": "); j >= 0 {
		msg = msg[:j]
	}
	return msg
}
