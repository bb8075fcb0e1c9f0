package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Windows says when apply mode may run: inside one of Allow (any time when
// Allow is empty), and never inside one of Deny. Each window is "DAYS
// HH:MM-HH:MM": days as Mon, Mon-Fri, Sat,Sun or *, and a range that may
// pass midnight (22:00-06:00 runs into the next day). Times are in
// Timezone (an IANA name; default UTC).
type Windows struct {
	Allow    []string `yaml:"allow"`
	Deny     []string `yaml:"deny"`
	Timezone string   `yaml:"timezone"`
}

// Open reports whether apply may run at t, and if not, why.
func (w Windows) Open(t time.Time) (bool, string) {
	loc := time.UTC
	if w.Timezone != "" {
		if l, err := time.LoadLocation(w.Timezone); err == nil {
			loc = l
		}
	}
	t = t.In(loc)
	for _, s := range w.Deny {
		if win, err := ParseWindow(s); err == nil && win.Contains(t) {
			return false, fmt.Sprintf("inside apply.windows.deny %q (%s)", s, t.Format("Mon 15:04 MST"))
		}
	}
	if len(w.Allow) == 0 {
		return true, ""
	}
	for _, s := range w.Allow {
		if win, err := ParseWindow(s); err == nil && win.Contains(t) {
			return true, ""
		}
	}
	return false, fmt.Sprintf("outside apply.windows.allow %q (%s)", strings.Join(w.Allow, ", "), t.Format("Mon 15:04 MST"))
}

func (w Windows) validate() []string {
	var errs []string
	for _, s := range append(append([]string{}, w.Allow...), w.Deny...) {
		if _, err := ParseWindow(s); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if w.Timezone != "" {
		if _, err := time.LoadLocation(w.Timezone); err != nil {
			errs = append(errs, fmt.Sprintf("timezone %q: %v", w.Timezone, err))
		}
	}
	return errs
}

// Window is one parsed time window.
type Window struct {
	days       [7]bool
	start, end int // minutes of the day; end may be 24:00
}

// weekday parses a day's three-letter name, lower case.
func weekday(s string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.ToLower(d.String()[:3]) == s {
			return d, true
		}
	}
	return 0, false
}

// ParseWindow parses "DAYS HH:MM-HH:MM".
func ParseWindow(s string) (Window, error) {
	var w Window
	days, hours, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return w, fmt.Errorf("window %q: want DAYS HH:MM-HH:MM, such as Mon-Fri 09:00-17:00", s)
	}
	for _, part := range strings.Split(days, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if part == "*" {
			w.days = [7]bool{true, true, true, true, true, true, true}
			continue
		}
		from, to, isRange := strings.Cut(part, "-")
		a, ok1 := weekday(from)
		b, ok2 := a, true
		if isRange {
			b, ok2 = weekday(to)
		}
		if !ok1 || !ok2 {
			return w, fmt.Errorf("window %q: unknown day %q (use Mon, Tue, ..., Sun, ranges like Mon-Fri, or *)", s, part)
		}
		for d := a; ; d = (d + 1) % 7 {
			w.days[d] = true
			if d == b {
				break
			}
		}
	}
	from, to, ok := strings.Cut(strings.TrimSpace(hours), "-")
	var err1, err2 error
	if ok {
		w.start, err1 = clock(from)
		w.end, err2 = clock(to)
	}
	if !ok || err1 != nil || err2 != nil || w.start == w.end {
		return w, fmt.Errorf("window %q: want a time range such as 09:00-17:00 (or 22:00-06:00 across midnight)", s)
	}
	return w, nil
}

func clock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}

// Contains reports whether t (in the window's time zone) lies inside.
func (w Window) Contains(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	d := t.Weekday()
	if w.start < w.end {
		return w.days[d] && m >= w.start && m < w.end
	}
	// Across midnight: from start on a listed day to end on the next.
	return (w.days[d] && m >= w.start) || (w.days[(d+6)%7] && m < w.end)
}
