package config

import (
	"testing"
	"time"
)

func TestWindows(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04 MST", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	w := Windows{Allow: []string{"Mon-Fri 09:00-17:00"}, Deny: []string{"Fri 16:00-24:00", "* 22:00-06:00"}}
	for when, want := range map[string]bool{
		"2026-12-07 10:00 UTC": true,  // Monday morning
		"2026-12-07 08:59 UTC": false, // before the window
		"2026-12-11 15:59 UTC": true,  // Friday, before the deny
		"2026-12-11 16:30 UTC": false, // Friday afternoon: denied
		"2026-12-12 10:00 UTC": false, // Saturday
	} {
		if got, why := w.Open(at(when)); got != want {
			t.Errorf("%s: open=%v (%s), want %v", when, got, why, want)
		}
	}
	night := Windows{Deny: []string{"Sat 22:00-06:00"}}
	if ok, _ := night.Open(at("2026-12-13 05:00 UTC")); ok { // Sunday 05:00, in Saturday's night
		t.Error("a window across midnight must cover the next morning")
	}
	if ok, _ := night.Open(at("2026-12-14 05:00 UTC")); !ok {
		t.Error("Monday 05:00 is not in Saturday's night")
	}
	berlin := Windows{Allow: []string{"* 09:00-10:00"}, Timezone: "Europe/Berlin"}
	if ok, _ := berlin.Open(at("2026-12-07 08:30 UTC")); !ok { // 09:30 in Berlin
		t.Error("the window's time zone was not used")
	}
	for _, bad := range []string{"weekdays 09:00-17:00", "Mon 9-17", "Mon 09:00-09:00", "Mon 25:00-26:00", "Mon"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
